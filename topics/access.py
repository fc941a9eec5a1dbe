"""Who may do what on the hub, derived from the topic catalogue and the subscription contracts — the ACLs
the secure profile enforces (groundwork for the secure-profile issue: derivation and diff, pure, tested;
applying them to a broker with SASL/SCRAM principals is not built yet).

- each department may write (and describe) only the ``ingest.<dataset>`` topics the catalogue says it owns;
- the worker reads what its stages read and writes what they write, and uses consumer groups ``pobi-*``;
- each subscriber may read only ``out.<subscriber>``, with consumer groups under its own prefix.
Anything else is denied by default (KRaft's StandardAuthorizer with ``allow.everyone.if.no.acl.found=false``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from topics.catalogue import Catalogue

__all__ = ["WORKER_PRINCIPAL", "Acl", "department_principal", "desired_acls", "diff", "subscriber_principal"]

WORKER_PRINCIPAL = "User:pobi-worker"


def department_principal(department: str) -> str:
    return f"User:dept-{department}"


def subscriber_principal(subscriber: str) -> str:
    return f"User:sub-{subscriber}"


@dataclass(frozen=True, order=True)
class Acl:
    principal: str
    resource_type: str  # TOPIC, GROUP or CLUSTER
    pattern: str  # LITERAL or PREFIXED
    name: str
    operation: str  # READ, WRITE, DESCRIBE, IDEMPOTENT_WRITE


def _topic(principal: str, name: str, *operations: str, pattern: str = "LITERAL") -> list[Acl]:
    return [Acl(principal, "TOPIC", pattern, name, op) for op in operations]


def desired_acls(catalogue: Catalogue, subscribers: Iterable[str],
                 topic_name: Callable[[str], str] = lambda n: n) -> set[Acl]:
    """Every ACL the deployment needs, nothing more. ``topic_name`` maps catalogue names into a namespace."""
    acls: set[Acl] = set()
    for spec in catalogue.topics:
        if spec.name.startswith("ingest.") and spec.owner:
            principal = department_principal(spec.owner)
            acls.update(_topic(principal, topic_name(spec.name), "WRITE", "DESCRIBE"))
            acls.add(Acl(principal, "CLUSTER", "LITERAL", "kafka-cluster", "IDEMPOTENT_WRITE"))
    worker = WORKER_PRINCIPAL
    for family, operations in (("ingest.", ("READ", "WRITE", "DESCRIBE")),  # WRITE: dlq replay goes back here
                               ("norm.", ("READ", "WRITE", "DESCRIBE")), ("dlq.", ("READ", "WRITE", "DESCRIBE")),
                               ("out.", ("READ", "WRITE", "DESCRIBE"))):
        acls.update(_topic(worker, topic_name(family), *operations, pattern="PREFIXED"))
    for name in ("audit.delivery", "pobi.subscriptions"):
        acls.update(_topic(worker, topic_name(name), "READ", "WRITE", "DESCRIBE"))
    acls.add(Acl(worker, "GROUP", "PREFIXED", topic_name("pobi-"), "READ"))
    acls.add(Acl(worker, "CLUSTER", "LITERAL", "kafka-cluster", "IDEMPOTENT_WRITE"))
    for subscriber in subscribers:
        principal = subscriber_principal(subscriber)
        acls.update(_topic(principal, topic_name(f"out.{subscriber}"), "READ", "DESCRIBE"))
        acls.add(Acl(principal, "GROUP", "PREFIXED", f"{subscriber}.", "READ"))
    return acls


def diff(desired: set[Acl], existing: set[Acl]) -> tuple[list[Acl], list[Acl]]:
    """(to add, to remove): what is missing, and what no catalogue entry or contract justifies any more."""
    return sorted(desired - existing), sorted(existing - desired)
