"""Fan-out rules, pure: which events a contract selects, and how a delivery is projected and masked."""
