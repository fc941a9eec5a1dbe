"""Who may do what on the hub, derived from the topic catalogue and the subscription contracts — the users and
ACLs the secure profile enforces (``pobi access apply`` puts them on the broker; this module is pure).

- each department may write only the ``ingest.<dataset>`` topics the catalogue says it owns (and ``dlq.ingest``,
  where its publisher leaves the records it could not send);
- the HTTP gateway (``pobi gateway``) writes every ``ingest.<dataset>`` and ``dlq.ingest`` on the departments'
  behalf; which department may publish which dataset it checks itself, by the department's bearer token;
- the worker reads what its stages read and writes what they write, with consumer groups ``pobi-*``;
- the schema registry (``pobi registry``) reads the contracts and keeps the schema ids (``pobi.schemas``);
- each subscriber may read only ``out.<subscriber>``, with consumer groups under ``<subscriber>.``; the schemas
  of its feed it reads from the registry, which shows it no other subscriber's — it cannot read the contracts.
Anything else is denied by default (KRaft's StandardAuthorizer with ``allow.everyone.if.no.acl.found=false``).
The administrator (a super user) applies catalogues, contracts and ACLs and replays dead letters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from topics.catalogue import Catalogue

__all__ = ["GATEWAY_PRINCIPAL", "GATEWAY_USER", "REGISTRY_PRINCIPAL", "REGISTRY_USER", "WORKER_PRINCIPAL",
           "WORKER_USER", "Acl", "department_principal", "department_user", "desired_acls", "desired_users", "diff",
           "is_managed", "owning_departments", "subscriber_principal", "subscriber_user"]

WORKER_USER = "pobi-worker"
WORKER_PRINCIPAL = f"User:{WORKER_USER}"
GATEWAY_USER = "pobi-gateway"
GATEWAY_PRINCIPAL = f"User:{GATEWAY_USER}"
REGISTRY_USER = "pobi-registry"
REGISTRY_PRINCIPAL = f"User:{REGISTRY_USER}"
_MANAGED_PREFIXES = ("User:dept-", "User:sub-", WORKER_PRINCIPAL, GATEWAY_PRINCIPAL, REGISTRY_PRINCIPAL)


def department_user(department: str) -> str:
    return f"dept-{department}"


def subscriber_user(subscriber: str) -> str:
    return f"sub-{subscriber}"


def department_principal(department: str) -> str:
    return f"User:{department_user(department)}"


def subscriber_principal(subscriber: str) -> str:
    return f"User:{subscriber_user(subscriber)}"


def desired_users(catalogue: Catalogue, subscribers: Iterable[str]) -> set[str]:
    """The SCRAM users the deployment needs: the worker, the gateway, the registry, each owning department, each
    subscriber."""
    return {WORKER_USER, GATEWAY_USER, REGISTRY_USER} | {department_user(o) for o in owning_departments(catalogue)} | {
        subscriber_user(s) for s in subscribers}


def owning_departments(catalogue: Catalogue) -> set[str]:
    """The departments the catalogue names as owners of an ``ingest`` topic: the ones that publish."""
    return {spec.owner for spec in catalogue.topics if spec.name.startswith("ingest.") and spec.owner}


@dataclass(frozen=True, order=True)
class Acl:
    principal: str
    resource_type: str  # TOPIC, GROUP or TRANSACTIONAL_ID
    pattern: str  # LITERAL or PREFIXED
    name: str
    operation: str  # READ, WRITE or DESCRIBE

    def __str__(self) -> str:
        wildcard = "*" if self.pattern == "PREFIXED" else ""
        return f"{self.principal} {self.operation} {self.resource_type.lower()} {self.name}{wildcard}"


def _topic(principal: str, name: str, *operations: str, pattern: str = "LITERAL") -> list[Acl]:
    return [Acl(principal, "TOPIC", pattern, name, op) for op in operations]


def desired_acls(catalogue: Catalogue, subscribers: Iterable[str],
                 topic_name: Callable[[str], str] = lambda n: n) -> set[Acl]:
    """Every ACL the deployment needs, nothing more. ``topic_name`` maps catalogue names into a namespace.

    No cluster-level right is granted: since Kafka 3.0 an idempotent producer needs only WRITE on a topic."""
    acls: set[Acl] = set()
    for spec in catalogue.topics:
        if spec.name.startswith("ingest.") and spec.owner:
            principal = department_principal(spec.owner)
            acls.update(_topic(principal, topic_name(spec.name), "WRITE", "DESCRIBE"))
            acls.update(_topic(principal, topic_name("dlq.ingest"), "WRITE", "DESCRIBE"))
    acls.update(_topic(GATEWAY_PRINCIPAL, topic_name("ingest."), "WRITE", "DESCRIBE", pattern="PREFIXED"))
    acls.update(_topic(GATEWAY_PRINCIPAL, topic_name("dlq.ingest"), "WRITE", "DESCRIBE"))
    worker = WORKER_PRINCIPAL
    acls.update(_topic(worker, topic_name("ingest."), "READ", "DESCRIBE", pattern="PREFIXED"))
    # the CDC stage may follow the sources and Debezium's topics; writing ingest.* stays the departments' own
    # right (change data capture runs in the plaintext profile only, until it has a principal of its own)
    acls.update(_topic(worker, topic_name("cdc."), "READ", "DESCRIBE", pattern="PREFIXED"))
    acls.update(_topic(worker, topic_name("pobi.sources"), "READ", "DESCRIBE"))
    for family in ("norm.", "dlq.", "out."):
        acls.update(_topic(worker, topic_name(family), "READ", "WRITE", "DESCRIBE", pattern="PREFIXED"))
    for audit in ("audit.delivery", "audit.read"):  # the sink reads them; the fan-out and the object API write
        acls.update(_topic(worker, topic_name(audit), "READ", "WRITE", "DESCRIBE"))
    acls.update(_topic(worker, topic_name("pobi.subscriptions"), "READ", "DESCRIBE"))
    # the fan-out records the id of a feed schema it is first to write with, as the registry does
    for principal in (worker, REGISTRY_PRINCIPAL):
        acls.update(_topic(principal, topic_name("pobi.schemas"), "READ", "WRITE", "DESCRIBE"))
    acls.update(_topic(REGISTRY_PRINCIPAL, topic_name("pobi.subscriptions"), "READ", "DESCRIBE"))
    for principal in (worker, REGISTRY_PRINCIPAL):
        acls.add(Acl(principal, "GROUP", "PREFIXED", topic_name("pobi-"), "READ"))
    # the normalise and fan-out stages write each batch in a transaction named after their group
    acls.update(Acl(worker, "TRANSACTIONAL_ID", "PREFIXED", topic_name("pobi-"), op) for op in ("WRITE", "DESCRIBE"))
    for subscriber in subscribers:
        principal = subscriber_principal(subscriber)
        acls.update(_topic(principal, topic_name(f"out.{subscriber}"), "READ", "DESCRIBE"))
        acls.add(Acl(principal, "GROUP", "PREFIXED", topic_name(f"{subscriber}."), "READ"))
    return acls


def is_managed(acl: Acl, namespace_prefix: str) -> bool:
    """Whether ``pobi access apply`` owns this ACL (and so may remove it): one of pobi's principals, on a
    resource of this namespace. ACLs of other principals or namespaces are never touched."""
    return acl.principal.startswith(_MANAGED_PREFIXES) and acl.name.startswith(namespace_prefix)


def diff(desired: set[Acl], existing: set[Acl]) -> tuple[list[Acl], list[Acl]]:
    """(to add, to remove): what is missing, and what no catalogue entry or contract justifies any more."""
    return sorted(desired - existing), sorted(existing - desired)
