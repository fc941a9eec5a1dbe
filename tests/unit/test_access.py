"""ACLs derived from the catalogue and the contracts: least privilege per party, and revoking a contract
removes its subscriber's read right."""

from topics.access import (
    GATEWAY_USER,
    REGISTRY_USER,
    WORKER_PRINCIPAL,
    WORKER_USER,
    Acl,
    department_principal,
    desired_acls,
    desired_users,
    diff,
    is_managed,
    subscriber_principal,
)
from topics.catalogue import load_catalogue


def test_a_department_writes_only_the_ingest_topics_it_owns() -> None:
    acls = desired_acls(load_catalogue(), [])
    police = {a for a in acls if a.principal == department_principal("public-security")}
    assert {(a.name, a.operation) for a in police} == {
        ("ingest.person", "WRITE"), ("ingest.person", "DESCRIBE"), ("dlq.ingest", "WRITE"), ("dlq.ingest", "DESCRIBE")}
    assert all(a.resource_type == "TOPIC" and a.pattern == "LITERAL" for a in police)


def test_a_subscriber_reads_only_its_own_feed_with_its_own_groups() -> None:
    acls = desired_acls(load_catalogue(), ["fuzhou-city", "credit-system"])
    fuzhou = {a for a in acls if a.principal == subscriber_principal("fuzhou-city")}
    assert fuzhou == {Acl(subscriber_principal("fuzhou-city"), "TOPIC", "LITERAL", "out.fuzhou-city", "READ"),
                      Acl(subscriber_principal("fuzhou-city"), "TOPIC", "LITERAL", "out.fuzhou-city", "DESCRIBE"),
                      Acl(subscriber_principal("fuzhou-city"), "GROUP", "PREFIXED", "fuzhou-city.", "READ")}


def test_revoking_a_contract_removes_its_subscribers_rights_and_nothing_else() -> None:
    catalogue = load_catalogue()
    before = desired_acls(catalogue, ["fuzhou-city", "credit-system"])
    after = desired_acls(catalogue, ["credit-system"])
    to_add, to_remove = diff(after, before)
    assert to_add == []
    assert {a.principal for a in to_remove} == {subscriber_principal("fuzhou-city")}


def test_acls_follow_the_namespace_and_the_worker_uses_its_own_groups() -> None:
    acls = desired_acls(load_catalogue(), ["fuzhou-city"], topic_name=lambda n: f"t1.{n}")
    assert Acl(WORKER_PRINCIPAL, "GROUP", "PREFIXED", "t1.pobi-", "READ") in acls
    assert all(a.name.startswith("t1.") for a in acls if a.resource_type == "TOPIC")


def test_the_worker_writes_no_ingest_topic_and_no_contract() -> None:
    worker = {(a.name, a.operation) for a in desired_acls(load_catalogue(), []) if a.principal == WORKER_PRINCIPAL}
    assert ("ingest.", "READ") in worker and ("ingest.", "WRITE") not in worker
    assert ("pobi.subscriptions", "READ") in worker and ("pobi.subscriptions", "WRITE") not in worker


def test_users_are_the_worker_the_gateway_the_owning_departments_and_the_subscribers() -> None:
    catalogue = load_catalogue()
    owners = {t.owner for t in catalogue.topics if t.name.startswith("ingest.")}
    users = desired_users(catalogue, ["credit-system"])
    assert users == {WORKER_USER, GATEWAY_USER, REGISTRY_USER, "sub-credit-system"} | {f"dept-{o}" for o in owners}


def test_only_pobis_principals_in_this_namespace_are_managed() -> None:
    ours = Acl("User:sub-a", "TOPIC", "LITERAL", "t1.out.a", "READ")
    assert is_managed(ours, "t1.")
    assert not is_managed(ours, "t2.")
    assert not is_managed(Acl("User:auditor", "TOPIC", "LITERAL", "t1.out.a", "READ"), "t1.")
    assert is_managed(Acl(WORKER_PRINCIPAL, "GROUP", "PREFIXED", "pobi-", "READ"), "")
