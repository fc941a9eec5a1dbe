"""Normalisation rules as pure functions: no broker, no clock unless passed in. Hard failures raise
``RuleViolation`` (the record goes to the DLQ); soft findings come back as ``Flag``s on the clean record."""
