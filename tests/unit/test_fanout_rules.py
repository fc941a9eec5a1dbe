"""Fan-out rules without a broker: filters, projection, masks, and the delivery schema a subscriber decodes."""

from datetime import date

import pytest

from schemas.codec import Codec
from schemas.projection import DeliveryDecoder
from schemas.registry import default_registry
from streams.fanout.deliver import compile_grants, subscriber_key
from streams.fanout.masking import mask_value, partial, pseudonym
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from tests.samples import SAMPLE_ROWS
from topics.contract import SubscriptionContract
from topics.subscriptions import CONTRACTS_DIR, load_contracts

HUB_KEY = b"k" * 32
CLOCK = RuleClock(date(2026, 11, 26), 1_795_657_200_000)


def clean(dataset: str, op: str = "c", department: str = "公安厅", **changes: object) -> dict:
    event = {"event_id": f"e-{dataset}-{sorted(changes.items())}", "dataset": dataset, "op": op, "ts_ms": 1,
             "source": {"department": department, "system": "s", "position": "1"},
             "before": None, "after": {**SAMPLE_ROWS[dataset], **changes}}
    return normalize_event(default_registry().latest(dataset), event, CLOCK,
                           {"topic": "t", "partition": 0, "offset": 0, "ts_ms": 1})


def contract(name: str) -> SubscriptionContract:
    contracts, _ = load_contracts(CONTRACTS_DIR, default_registry(), date(2026, 11, 26))
    return next(c for c in contracts if c.subscriber == name)


def test_partial_masks_keep_what_recognises_and_no_more() -> None:
    assert partial("350102199003071234", "id_number") == "350102********1234"
    assert partial("13905910001", "phone") == "139****0001"
    assert partial("陈志明", "text") == "陈**"
    assert partial("福州市鼓楼区五四路100号", "text") == "福州市鼓" + "*" * 9


def test_hashes_are_stable_per_subscriber_and_differ_between_subscribers() -> None:
    one, other = subscriber_key(HUB_KEY, "fuzhou-city"), subscriber_key(HUB_KEY, "xiamen-city")
    assert pseudonym("350102199003071234", one) == pseudonym("350102199003071234", one)
    assert pseudonym("350102199003071234", one) != pseudonym("350102199003071234", other)
    assert "350102" not in pseudonym("350102199003071234", one)
    assert mask_value("redact", "x", None, one) is None and mask_value("clear", "x", None, one) == "x"
    with pytest.raises(ValueError, match="unknown mask"):
        mask_value("scramble", "x", None, one)


def test_a_grant_selects_by_its_filter_and_delivers_only_masked_granted_fields() -> None:
    [grant] = compile_grants(contract("fuzhou-city"), default_registry(), HUB_KEY)
    fuzhou, xiamen = clean("person"), clean("person", division_code="350203")
    assert grant.selects(fuzhou) and not grant.selects(xiamen)
    key, record = grant.delivery(fuzhou, now_ms=5)
    mask_key = subscriber_key(HUB_KEY, "fuzhou-city")
    assert record["row"] == {"id_number": pseudonym("350102199003071234", mask_key), "name": "陈**", "gender": "1",
                             "birth_date": "1990-03-07", "division_code": "350102", "address": None,
                             "phone": "139****0001"}
    assert key == pseudonym("350102199003071234", mask_key).encode() and record["entity_key"] == key.decode()
    assert grant.audit(fuzhou, 5, "kafka")["entity_id"] == "350102199003071234"


def test_filters_on_op_and_set_membership() -> None:
    enterprise_grant, licence_grant = compile_grants(contract("credit-system"), default_registry(), HUB_KEY)
    assert enterprise_grant.selects(clean("enterprise", op="u"))
    assert not enterprise_grant.selects(clean("enterprise", op="r"))
    assert licence_grant.selects(clean("licence"))
    assert not licence_grant.selects(clean("licence", holder_type="111", holder_id="350102199003071234"))


def test_a_delivery_decodes_with_the_schema_published_with_the_contract() -> None:
    from topics.subscriptions import contract_document

    terms = contract("credit-system")
    grant = compile_grants(terms, default_registry(), HUB_KEY)[0]
    _key, record = grant.delivery(clean("enterprise", op="u"), now_ms=5)
    data = Codec.encode_with(grant.writer.wire, record)
    document = contract_document(terms, default_registry())
    decoded = DeliveryDecoder(list(document["schemas"].values())).decode(data)
    assert decoded == record
    assert set(decoded["row"]) == set(terms.datasets["enterprise"].fields)
