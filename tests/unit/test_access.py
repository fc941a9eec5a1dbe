"""ACLs derived from the catalogue and the contracts: least privilege per party, and revoking a contract
removes its subscriber's read right."""

from topics.access import (
    WORKER_PRINCIPAL,
    Acl,
    department_principal,
    desired_acls,
    diff,
    subscriber_principal,
)
from topics.catalogue import load_catalogue


def test_a_department_writes_only_the_ingest_topics_it_owns() -> None:
    acls = desired_acls(load_catalogue(), [])
    police = {a for a in acls if a.principal == department_principal("public-security")}
    assert {(a.name, a.operation) for a in police if a.resource_type == "TOPIC"} == {
        ("ingest.person", "WRITE"), ("ingest.person", "DESCRIBE")}
    assert not any(a.operation == "READ" for a in police)


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
