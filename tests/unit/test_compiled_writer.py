"""The compiled Avro writer (the faster path) against fastavro's (the slower one), byte for byte: random
records of every schema pobi has, the demo's events through normalisation, every contract's deliveries and
delivery-log entries; and it fails where fastavro fails."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

import pytest

from foundation.clock import CST
from pobi.demo.traffic import DemoTraffic
from pobi.publish.adapters import Draft
from pobi.publish.events import EventRules, envelope_for
from schemas.codec import Codec
from schemas.confluent import frame
from schemas.envelope import SourceRef, build_envelope
from schemas.feeds import FeedWriter, union_branch
from schemas.registry import WireSchema, default_registry
from schemas.rows import RowError
from schemas.writer import compile_fields, compile_writer, encode_long, fastavro_body
from streams.fanout.deliver import DeliveryLog, compile_grants
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from streams.rules.outcome import RuleViolation
from tests.samples import SAMPLE_ROWS
from topics.contract import load_contract
from topics.subscriptions import CONTRACTS_DIR

REGISTRY = default_registry()
CODEC = Codec(REGISTRY)
TEXTS = ["", "a", "福州市鼓楼区五四路100号", "x" * 63, "y" * 64, "é" * 200, "\u0000\u202e", "🀄" * 40]
LONGS = [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 2**31 - 1, -(2**31), 2**53, 2**63 - 1, -(2**63)]


def random_value(schema: Any, rng: random.Random, named: dict[str, Any]) -> Any:
    """A value of ``schema`` (as written), every branch and edge the writer has a path for."""
    if isinstance(schema, list):
        return None if rng.random() < 0.3 else random_value(schema[1], rng, named)
    if isinstance(schema, str):
        if schema in named:
            return random_value(named[schema], rng, named)
        schema = {"type": schema}
    kind = schema["type"]
    if kind == "record":
        return {f["name"]: random_value(f["type"], rng, named) for f in schema["fields"]}
    if kind == "enum":
        return rng.choice(schema["symbols"])
    if kind == "array":
        return [random_value(schema["items"], rng, named) for _ in range(rng.choice([0, 1, 3, 70]))]
    if kind == "map":
        return {rng.choice(TEXTS) + str(n): random_value(schema["values"], rng, named)
                for n in range(rng.choice([0, 1, 4]))}
    if kind == "string":
        return rng.choice(TEXTS)
    if kind == "long":
        return rng.choice(LONGS)
    if kind == "int":
        return rng.choice([v for v in LONGS if -(2**31) <= v < 2**31])
    if kind == "double":
        return rng.choice([0.0, -1.5, 3.14159, 1e300, float(2**60)])
    if kind == "bytes":
        return rng.choice([b"", b"\x00\xc3\x01", bytes(range(256))])
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    raise AssertionError(f"no generator for {kind}")


def named_types(schema: Any, named: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every record and enum in ``schema`` by its short and full name, so a reference finds its definition."""
    named = {} if named is None else named
    if isinstance(schema, list):
        for branch in schema:
            named_types(branch, named)
    elif isinstance(schema, dict):
        if schema["type"] in ("record", "enum"):
            named[schema["name"]] = schema
            if "namespace" in schema:
                named[f"{schema['namespace']}.{schema['name']}"] = schema
        for field in schema.get("fields", []):
            named_types(field["type"], named)
        for inner in ("items", "values"):
            if inner in schema:
                named_types(schema[inner], named)
    return named


def all_schemas() -> list[WireSchema]:
    return [wire for subject in REGISTRY.subjects for wire in REGISTRY.versions(subject)]


@pytest.mark.parametrize("wire", all_schemas(), ids=lambda w: f"{w.subject}-v{w.version}")
def test_random_records_of_every_schema_are_written_as_fastavro_writes_them(wire: WireSchema) -> None:
    rng = random.Random(wire.subject)
    compiled, reference = compile_writer(wire.schema, wire.parsed), fastavro_body(wire.parsed)
    assert compiled.__qualname__.startswith("_body"), "every schema pobi has compiles"
    for _ in range(300):
        record = random_value(wire.schema, rng, named_types(wire.schema))
        if wire.row_name is not None:  # fastavro cannot tell two record branches apart without their names
            record = {**record, **{side: None if record[side] is None else (wire.row_name, record[side])
                                   for side in ("before", "after")}}
            assert compiled({**record, "before": record["before"] and record["before"][1],
                             "after": record["after"] and record["after"][1]}) == reference(record)
        else:
            assert compiled(record) == reference(record)


def demo_clean_events() -> list[tuple[WireSchema, dict[str, Any]]]:
    traffic, start = DemoTraffic(seed=11), datetime(2026, 11, 26, 9, tzinfo=CST)
    clock = RuleClock(start.date(), int(start.timestamp() * 1000))
    events = []
    for n, (dataset, row) in enumerate(traffic.batch(300, 60, 60, 20, start)):
        schema = REGISTRY.latest(dataset)
        op = ("c", "u", "d", "r")[n % 4]
        envelope = build_envelope(schema, event_id=f"e-{n}", op=op, source=SourceRef("dept", "sys"),
                                  position=str(n), ts_ms=clock.now_ms - n, before=row if op in "ud" else None,
                                  after=None if op == "d" else row)
        try:
            clean = normalize_event(schema, CODEC.decode(CODEC.encode_with(schema, envelope))[1], clock,
                                    {"topic": "t", "partition": n % 6, "offset": n, "ts_ms": clock.now_ms})
        except RuleViolation:
            continue
        events.append((REGISTRY.latest(f"{dataset}.clean"), clean))
    return events


def test_the_demos_clean_events_encode_to_the_same_bytes_by_both_writers() -> None:
    events = demo_clean_events()
    assert len({wire.subject for wire, _ in events}) == len(REGISTRY.datasets)
    for wire, clean in events:
        assert CODEC.encode_own(wire, clean) == CODEC.encode_with(wire, clean)


@pytest.mark.parametrize("feed_format", ["avro", "avro-single-object"])
def test_every_contracts_deliveries_and_log_entries_are_the_same_bytes(feed_format: str) -> None:
    audit = REGISTRY.latest("delivery_record")
    log = DeliveryLog(audit)
    delivered = 0
    for path in sorted(CONTRACTS_DIR.glob("*.yaml")):
        contract = load_contract(path, REGISTRY, date(2026, 11, 26))
        for grant in compile_grants(contract, REGISTRY, b"k" * 32, 42):
            writer = FeedWriter(feed_format, grant.writer.wire, grant.writer.branch, 42)
            for wire, clean in demo_clean_events():
                if wire.subject != f"{grant.dataset}.clean" or not grant.selects(clean):
                    continue
                _key, record = grant.delivery(clean, 1_764_000_000_000)
                body = Codec.body(grant.writer.wire, record)
                expected = (frame(42, union_branch(grant.writer.branch) + body) if feed_format == "avro"
                            else Codec.encode_with(grant.writer.wire, record))
                assert writer.encode(record)[0] == expected
                entry = grant.audit(clean, 1_764_000_000_000, contract.delivery)
                assert Codec.encode_own(audit, entry) == Codec.encode_with(audit, entry)
                assert log.entry(grant, log.event_part(clean), 1_764_000_000_000,
                                 contract.delivery) == Codec.encode_with(audit, entry)
                delivered += 1
    assert delivered > 100


def test_the_compiled_writer_refuses_what_fastavro_refuses() -> None:
    wire = REGISTRY.latest("delivery_record")
    entry = {"subscriber": "s", "contract_version": 1, "dataset": "person", "event_id": "e", "entity_type": "person",
             "entity_id": "1", "fields": ["a"], "mode": "kafka", "ts_ms": 1}
    compiled, reference = compile_writer(wire.schema, wire.parsed), fastavro_body(wire.parsed)
    for spoiled in ({**entry, "event_id": 7}, {**entry, "ts_ms": "soon"}, {**entry, "ts_ms": 2**63},
                    {k: v for k, v in entry.items() if k != "event_id"}, {**entry, "fields": [None]}):
        with pytest.raises((TypeError, ValueError, AttributeError, KeyError, OverflowError)):
            reference(spoiled)
        with pytest.raises((TypeError, ValueError, KeyError)):
            compiled(spoiled)


def test_longs_are_zigzag_varints() -> None:
    assert [encode_long(v) for v in (0, -1, 1, -64, 64, 2**63 - 1)] == [
        b"\x00", b"\x01", b"\x02", b"\x7f", b"\x80\x01", b"\xfe" + b"\xff" * 8 + b"\x01"]
    with pytest.raises(ValueError, match="Avro long"):
        encode_long(2**63)


def test_parts_of_a_record_must_be_consecutive_fields() -> None:
    schema = REGISTRY.latest("delivery_record").schema
    with pytest.raises(ValueError, match="not consecutive"):
        compile_fields(schema, ["subscriber", "dataset"])
    with pytest.raises(ValueError, match="not consecutive"):
        compile_fields(schema, ["no_such_field"])


HOSTILE = [None, "", " ", "3501", "１２３", "1e400", "nan", "-0", 0, -1, 2**31, 2**63, 2**64, 1.5, float("inf"),
           float("nan"), True, False, [], {}, ["a"], {"a": 1}, "\ud800", "福州" * 300, b"bytes"]


def test_published_envelopes_encode_alike_or_are_refused_alike() -> None:
    """What `pobi publish` and the gateway send is written by the compiled writer once ``check_row`` accepted
    its rows: for rows of every dataset with hostile values in every field, either ``envelope_for`` refuses
    the row, or both writers write the same bytes, or both refuse it (as a value error the publisher turns
    into a dead letter)."""
    rng = random.Random(21)
    rules = EventRules(source=SourceRef("public-security", "hukou"), label="t.jsonl", default_ts=1_764_000_000_000)
    written = refused_by_both = 0
    for dataset in REGISTRY.datasets:
        schema = REGISTRY.latest(dataset)
        for n in range(400):
            row = dict(SAMPLE_ROWS[dataset])
            for name in rng.sample(sorted(row), rng.randint(1, 3)):
                row[name] = rng.choice(HOSTILE)
            draft = Draft(n, str(row).encode(), None, row, op=rng.choice(["c", "u", "r"]))
            try:
                envelope = envelope_for(schema, draft, rules)
            except RowError:
                continue
            try:
                expected = CODEC.encode_with(schema, envelope)
            except (ValueError, TypeError, OverflowError):
                with pytest.raises((ValueError, TypeError, OverflowError)):
                    Codec.encode_own(schema, envelope)
                refused_by_both += 1
                continue
            assert Codec.encode_own(schema, envelope) == expected
            written += 1
    assert written > 200 and refused_by_both > 0, (written, refused_by_both)
