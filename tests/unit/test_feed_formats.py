"""A feed in each format its contract may choose, read back as a subscriber's own client reads it: Confluent's
wire format with fastavro alone (no pobi code), single-object and JSON through ``FeedDecoder``; the feed's
registry subject grows a version per contract version; who may see which subject."""

from __future__ import annotations

import base64
import json
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_reader

from foundation.errors import DecodeError
from foundation.settings import Settings
from foundation.topic_names import Topics
from pobi.registry.access import RegistryError, RegistryReaders
from pobi.registry.subjects import feed_subjects
from schemas.confluent import canonical_form, natural_id, schema_fingerprint, unframe
from schemas.feeds import SCHEMA_ID_HEADER, FeedDecoder, FeedWriter, union_branch
from schemas.projection import delivery_wire_schema
from schemas.registry import default_registry
from tests.doubles import FakeBook
from topics.catalogue import load_catalogue
from topics.contract import LEGACY_FORMAT, SubscriptionContract, check_contract
from topics.subscriptions import CONTRACTS_DIR, contract_document, contract_feed

REGISTRY = default_registry()
TERMS = {"subscriber": "tax-office", "version": 1, "owner_department": "tax", "purpose": "p", "legal_basis": "l",
         "approver": "a", "valid_until": "2099-01-01",
         "datasets": {"person": {"fields": ["id_number", "gender"], "masks": {"id_number": "hash", "gender": "hash"}},
                      "enterprise": {"fields": ["uscc", "name"]}}}


def contract(**changes: object) -> SubscriptionContract:
    return SubscriptionContract.model_validate({**TERMS, **changes})


def delivery(dataset: str) -> dict[str, object]:
    row = {"id_number": "ab" * 16, "gender": "1"} if dataset == "person" else {"uscc": "X", "name": "某公司"}
    return {"event_id": "e-1", "dataset": dataset, "op": "c", "ts_ms": 1, "department": "d", "entity_type": dataset,
            "entity_key": "k", "row": row, "contract_version": 1, "delivered_ts_ms": 2}


def writer(terms: SubscriptionContract, dataset: str, schema_id: int) -> FeedWriter:
    grant = terms.datasets[dataset]
    wire = delivery_wire_schema(terms.subscriber, terms.version, dataset, grant.fields, grant.masks, REGISTRY)
    return FeedWriter(terms.feed_format, wire, sorted(terms.datasets).index(dataset), schema_id)


def test_the_branch_index_is_avro_s_zigzag_varint() -> None:
    assert [union_branch(i) for i in (0, 1, 2, 63, 64)] == [b"\x00", b"\x02", b"\x04", b"\x7e", b"\x80\x01"]


@pytest.mark.parametrize("dataset", ["enterprise", "person"])
def test_confluent_format_is_read_by_plain_fastavro_with_the_feed_schema(dataset: str) -> None:
    terms = contract()
    feed = contract_feed(terms, REGISTRY)
    assert [s["name"] for s in feed] == ["EnterpriseDelivery", "PersonDelivery"]  # by dataset name
    value, headers = writer(terms, dataset, 4242).encode(delivery(dataset))
    schema_id, body = unframe(value)
    assert schema_id == 4242 and headers is None
    read = schemaless_reader(BytesIO(body), parse_schema(json.loads(canonical_form(feed))), None)
    assert read == delivery(dataset)  # the union's branch chosen by the index, not by guessing


def test_each_format_decodes_through_the_registry_s_answers() -> None:
    schemas: dict[int, str] = {}
    for chosen in ("avro", "avro-single-object", "json"):
        terms = contract(format=chosen)
        feed = contract_feed(terms, REGISTRY)
        schemas[77] = canonical_form(feed)
        value, headers = writer(terms, "person", 77).encode(delivery("person"))
        decoder = FeedDecoder(schemas.__getitem__, json.loads(canonical_form(feed)))
        assert decoder.decode(value, headers) == delivery("person"), chosen
        if chosen == "json":
            assert headers == [(SCHEMA_ID_HEADER, b"77")] and json.loads(value)["row"]["gender"] == "1"
    with pytest.raises(DecodeError):
        FeedDecoder(schemas.__getitem__).decode(b'{"a": 1}')  # JSON without the header names no schema
    with pytest.raises(DecodeError):
        FeedDecoder(schemas.__getitem__).decode(b"\x00\x00\x00\x00\x4d\xff")  # a corrupt body


def test_a_webhook_feed_keeps_the_sender_s_format_and_refuses_a_format() -> None:
    hook = {"delivery": "webhook", "webhook": {"url": "https://example.org/hook"}}
    assert contract(**hook).feed_format == LEGACY_FORMAT
    problems = check_contract(contract(**hook, format="json"), REGISTRY, date(2026, 1, 1))
    assert [where for where, _ in problems] == [("format",)]
    assert contract().feed_format == "avro" and contract(format="json").feed_format == "json"


def test_a_contract_applied_before_formats_keeps_single_object_until_its_next_version() -> None:
    terms = contract()
    old = {"contract": terms.model_dump(mode="json", by_alias=True, exclude_none=True), "schemas": {}}
    assert FakeBook({"tax-office": old}).contract("tax-office").feed_format == LEGACY_FORMAT
    new = contract_document(terms, REGISTRY)
    assert FakeBook({"tax-office": new}).contract("tax-office").feed_format == "avro"


def test_the_feed_subject_gains_a_version_per_contract_version_that_changed_it() -> None:
    first = contract_document(contract(), REGISTRY)
    second = contract_document(contract(version=2, datasets={"person": TERMS["datasets"]["person"]}), REGISTRY,
                               previous=first)
    third = contract_document(contract(version=3, purpose="other", datasets={"person": TERMS["datasets"]["person"]}),
                              REGISTRY, previous=second)
    assert [f["contract_version"] for f in third["feeds"]] == [1, 2, 3]
    now = contract_feed(contract(version=3, datasets={"person": TERMS["datasets"]["person"]}), REGISTRY)
    subjects = feed_subjects(Topics("t1"), {"tax-office": third}, {"tax-office": (3, now)})
    versions = subjects["t1.out.tax-office-value"]
    # numbered as the contract: v3 changed only its purpose, so it has v2's schema (and so v2's id)
    assert [v.version for v in versions] == [1, 2, 3]
    assert versions[1].fingerprint == versions[2].fingerprint == schema_fingerprint(now)
    assert versions[0].fingerprint != versions[1].fingerprint and versions[0].wire is None
    legacy = feed_subjects(Topics(""), {"tax-office": {"contract": {}}}, {"tax-office": (4, now)})
    assert [v.version for v in legacy["out.tax-office-value"]] == [4]  # nothing recorded: today's version alone


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_who_sees_which_subject_on_the_secure_profile(tmp_path: Path) -> None:
    settings = Settings(security="secure", secrets_dir=tmp_path, namespace="")
    (tmp_path / "kafka").mkdir()
    for user in ("admin", "sub-fuzhou-city", "dept-public-security", "someone"):
        (tmp_path / "kafka" / f"{user}.password").write_text(f"pw-{user}\n")
    readers = RegistryReaders(settings, load_catalogue())
    assert readers.identify(_basic("admin", "pw-admin")).subjects is None
    fuzhou = readers.identify(_basic("sub-fuzhou-city", "pw-sub-fuzhou-city"))
    assert fuzhou.subjects == {"out.fuzhou-city-value"} and not fuzhou.sees("out.credit-system-value")
    police = readers.identify(_basic("dept-public-security", "pw-dept-public-security"))
    assert police.sees("ingest.person-value") and not police.sees("ingest.enterprise-value")
    assert readers.identify(_basic("someone", "pw-someone")).subjects == frozenset()
    for refused in (None, "Bearer x", _basic("admin", "wrong"), _basic("nobody", "pw"), "Basic %%%"):
        with pytest.raises(RegistryError) as err:
            readers.identify(refused)
        assert err.value.status == 401
    plain = RegistryReaders(Settings(namespace=""), load_catalogue())
    assert plain.identify(None).subjects is None  # loopback plaintext profile: no credentials asked


def test_the_shipped_contracts_name_their_feed_format() -> None:
    from topics.subscriptions import load_contracts

    found, problems = load_contracts(CONTRACTS_DIR, REGISTRY, date(2026, 11, 26))
    assert not problems
    assert {c.subscriber: c.feed_format for c in found} == {
        "fuzhou-city": "avro", "credit-system": "json", "environment-bureau": LEGACY_FORMAT}
    assert natural_id(schema_fingerprint(contract_feed(found[0], REGISTRY))) > 0
