"""Hostile and careless input on the real stack: 2,000 poison records among 5,000 valid ones. Every valid
record reaches ``norm.*`` and ClickHouse, every poison one is in a DLQ with its reason, the ledger balances,
and no stage stops."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_writer

from pobi.demo.traffic import CST, valid_id_number
from schemas.codec import MAGIC, Codec
from schemas.envelope import SourceRef, build_envelope, record_key
from schemas.registry import default_registry
from sinks.clickhouse.stage import SinkStage
from tests.kafka_helpers import read_all
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import running_stage, wait_for_group, wait_until_idle, whole_hub
from topics.dead_letters import DeadLetter
from topics.producer import Publisher

pytestmark = pytest.mark.stack

DATASETS = ["person", "approval_case", "sensor_reading"]
POLICE, CIVIL = SourceRef("public-security", "hukou"), SourceRef("civil-affairs", "marriage")
NOW_MS = int(time.time() * 1000)
CODEC = Codec()


def envelope(name: str, event_id: str, row: dict, source: SourceRef = POLICE, **changes: object) -> dict:
    built = build_envelope(default_registry().latest(name), event_id=event_id, op="c", source=source,
                           position=event_id, ts_ms=NOW_MS, before=None, after=row)
    return built | changes


def person(n: int) -> dict:
    born = date(1950, 1, 1) + timedelta(days=(n % 7000) * 3)
    return SAMPLE_ROWS["person"] | {"id_number": valid_id_number("350102", born, 2 * (n % 400) + 1),
                                    "birth_date": born.isoformat(), "gender": "1"}


def case(n: int, **changes: object) -> dict:
    return SAMPLE_ROWS["approval_case"] | {"case_id": f"FJ2026{n:09d}"} | changes


def reading(n: int, **changes: object) -> dict:
    measured = datetime.now(CST) - timedelta(minutes=n % 50)
    return SAMPLE_ROWS["sensor_reading"] | {"sensor_id": f"S-{n}", "measured_at": measured.isoformat()} | changes


def encoded(dataset: str, event: dict) -> tuple[bytes, bytes]:
    """(key, value) as a department's own Avro writer would send them, unchecked."""
    schema = default_registry().latest(dataset)
    return record_key(schema, event), CODEC.encode_with(schema, event)


def with_ints_as_longs(dataset: str, event: dict) -> tuple[bytes, bytes]:
    """(key, value) of an event whose int fields hold more than 32 bits, as a writer that does not check
    writes them: int and long share one varint encoding, so the bytes carry pobi's own fingerprint."""
    schema = default_registry().latest(dataset)
    loose = json.loads(json.dumps(schema.schema).replace('"int"', '"long"'))
    body = BytesIO()
    schemaless_writer(body, parse_schema(loose, named_schemas={}), event)
    return record_key(schema, event), MAGIC + schema.fingerprint + body.getvalue()


def poison(n: int) -> tuple[str, bytes | None, bytes | None, str]:
    """The n-th poison record: (dataset, key, value, the DLQ reason it must end with)."""
    kind = n % 16
    rng = random.Random(n)
    good_key, good = encoded("person", envelope("person", f"poison-{n}", person(10_000 + n)))
    if kind == 0:
        return "person", b"k", None, "decode.null"
    if kind == 1:
        return "person", None, b"", "decode.not_avro"
    if kind == 2:
        return "person", b"k", rng.randbytes(rng.randint(1, 400)).replace(b"\xc3\x01", b"xx"), "decode.not_avro"
    if kind == 3:
        return "person", good_key, good[: rng.randint(11, len(good) - 1)], "decode.corrupt"
    if kind == 4:
        return "person", good_key, MAGIC + rng.randbytes(8) + good[10:], "decode.unknown_schema"
    if kind == 5:
        letter = DeadLetter("ingest", "x", "a dead letter where an event belongs", b"...").record()
        return "person", b"k", CODEC.encode("dead_letter", letter), "event.wrong_topic"
    if kind == 6:
        key, value = encoded("approval_case", envelope("approval_case", f"poison-{n}", case(n)))
        return "person", key, value, "event.wrong_topic"
    if kind == 7:  # a person event that claims to be an enterprise, to reach the credit platform
        return ("person", *encoded("person", envelope("person", f"poison-{n}", person(10_000 + n),
                                                      dataset="enterprise")), "event.wrong_dataset")
    if kind == 8:
        return ("person", *encoded("person", envelope("person", f"poison-{n}", person(10_000 + n), ts_ms=-1)),
                "event.ts_out_of_range")
    if kind == 9:
        return ("person", *encoded("person", envelope("person", f"poison-{n}", person(10_000 + n),
                                                      ts_ms=253_402_300_800_000 + n)), "event.ts_out_of_range")
    if kind == 10:
        overflow = case(n, statutory_limit_days=2**31 + n)
        return ("approval_case", *with_ints_as_longs("approval_case", envelope("approval_case", f"poison-{n}",
                                                                                 overflow)),
                "value.out_of_range")
    if kind == 11:
        early = case(n, stage_time="1969-12-31T23:00:00+08:00")
        return ("approval_case", *encoded("approval_case", envelope("approval_case", f"poison-{n}", early)),
                "datetime.out_of_range")
    if kind == 12:
        early = reading(n, measured_at="1960-01-01T00:00:00+08:00")
        return ("sensor_reading", *encoded("sensor_reading", envelope("sensor_reading", f"poison-{n}", early)),
                "datetime.out_of_range")
    if kind == 13:
        return ("person", *encoded("person", envelope("person", f"poison\x1f{n}", person(10_000 + n))),
                "event.id_invalid")
    if kind == 14:  # a guessed id of a valid event (same department, same person, so it queues behind it)
        forged = person(7) | {"name": f"冒名{n}", "address": "伪造地址"}
        return "person", *encoded("person", envelope("person", "valid-person-7", forged)), "event.id_conflict"
    huge = person(10_000 + n) | {"address": "福" * (3_000_000 if n == 15 else 400_000)}  # 9 MB or 1.2 MB
    return "person", *encoded("person", envelope("person", f"poison-{n}", huge)), "event.too_large"


def valid(n: int) -> tuple[str, bytes, bytes, str]:
    """The n-th valid record: (dataset, key, value, event id); some carry NUL and right-to-left characters."""
    kind = n % 5
    if kind <= 2:
        row = person(n)
        if n % 50 == 0:
            row |= {"name": "陈\u202e志\x00明"}
        source = CIVIL if n % 11 == 3 else POLICE  # n = 7 is the police's, n = 36 civil affairs'
        event_id = f"valid-person-{n}"
        if n == 36:  # the civil-affairs register happens to reuse an id the police used: both are kept
            event_id, source = "valid-person-7", CIVIL
        return "person", *encoded("person", envelope("person", event_id, row, source)), event_id
    if kind == 3:
        return "approval_case", *encoded("approval_case", envelope("approval_case", f"valid-case-{n}", case(n))), \
            f"valid-case-{n}"
    return "sensor_reading", *encoded("sensor_reading", envelope("sensor_reading", f"valid-reading-{n}",
                                                                   reading(n))), f"valid-reading-{n}"


def test_poison_among_valid_records_ends_in_the_dlq_and_the_rest_reaches_clickhouse(
        live_stack: object, unique: str, tmp_path: Path) -> None:
    settings, writer = whole_hub(unique, tmp_path / "secrets", DATASETS)
    db = settings.clickhouse_database
    expected_reasons: Counter[str] = Counter()
    valid_ids: dict[str, set[str]] = {d: set() for d in DATASETS}
    records = [("valid", n) for n in range(5000)] + [("poison", n) for n in range(2000)]
    random.Random(7).shuffle(records)
    records.sort(key=lambda r: r == ("valid", 7), reverse=True)  # the id a poison record reuses comes first
    # a department's own client, not pobi's: it will send whatever the broker takes
    with Publisher(settings, extra_config={"message.max.bytes": 20_000_000}) as publisher:
        for kind, n in records:
            if kind == "valid":
                dataset, key, value, event_id = valid(n)
                valid_ids[dataset].add(event_id)
            else:
                dataset, key, value, reason = poison(n)
                expected_reasons[reason] += 1
            publisher.produce(settings.topics.ingest(dataset), key, value)  # type: ignore[arg-type]

    sink = SinkStage(settings, datasets=DATASETS)
    with running_stage(settings, DATASETS), running_stage(settings, DATASETS, stage=sink):
        ledger = wait_until_idle(settings, DATASETS, timeout_s=240)
        wait_for_group(settings, "pobi-sink", sink.topics(), timeout_s=120)

    for dataset in DATASETS:
        assert ledger[dataset].status == "balanced", ledger[dataset]
    reasons = sum((Counter(row.dlq_reasons) for row in ledger.values()), Counter())
    assert reasons == expected_reasons
    assert sum(row.counts.get("duplicate", 0) for row in ledger.values()) == 0

    for dataset in DATASETS:
        clean = [CODEC.decode(m.value())[1] for m in read_all(settings, settings.topics.norm(dataset))]
        assert Counter(e["event_id"] for e in clean) == Counter(valid_ids[dataset]) + (
            Counter({"valid-person-7": 1}) if dataset == "person" else Counter())
        if dataset == "person":
            names = {e["after"]["name"] for e in clean}
            assert "陈志明" in names and not any("\x00" in x or "\u202e" in x for x in names)
    letters = [CODEC.decode(m.value())[1] for m in read_all(settings, settings.topics.dlq("normalize"))]
    assert Counter(letter["reason"] for letter in letters) == expected_reasons
    huge = [letter for letter in letters if letter["reason"] == "event.too_large"]
    assert all(len(letter["original"]) <= 256 * 1024 and "original_sha256" in letter["context"] for letter in huge)

    stored = dict(writer.execute(f"SELECT dataset, uniqExact(event_id) FROM {db}.events GROUP BY dataset"))
    assert stored == {d: len(ids) for d, ids in valid_ids.items()}
    [(dead,)] = writer.execute(f"SELECT count() FROM {db}.dead_letters FINAL WHERE stage = 'normalize'")
    assert dead == sum(expected_reasons.values())
    [(sink_letters,)] = writer.execute(f"SELECT count() FROM {db}.dead_letters FINAL WHERE stage = 'sink'")
    assert sink_letters == 0  # the normaliser refused everything ClickHouse could not hold


def test_the_sink_dead_letters_rows_clickhouse_refuses_and_writes_the_rest(
        live_stack: object, unique: str, tmp_path: Path) -> None:
    """Clean events written by something other than the normaliser (a bug, an old version, a hand) whose
    values the columns cannot hold: found by splitting the refused insert, dead-lettered, the rest stored."""
    settings, writer = whole_hub(unique, tmp_path / "secrets", ["sensor_reading"])
    db = settings.clickhouse_database
    schema = default_registry().latest("sensor_reading.clean")
    good, bad = [], []
    with Publisher(settings) as publisher:
        for n in range(300):
            event = clean_reading(n)
            if n % 100 == 42:
                event["ts_ms"] = 2**63 - 1 - n  # beyond any DateTime: the row cannot be built
                bad.append(event["event_id"])
            elif n % 100 == 77:
                event["enrichment"]["measured_at.epoch_ms"] = str(-86_400_000 * 365 * 100)  # 1870
                bad.append(event["event_id"])
            else:
                good.append(event["event_id"])
            publisher.produce(settings.topics.norm("sensor_reading"), event["entity"]["id"].encode(),
                              CODEC.encode_with(schema, event))
        publisher.produce(settings.topics.norm("sensor_reading"), b"x", b"not avro")
    sink = SinkStage(settings, datasets=["sensor_reading"])
    with running_stage(settings, ["sensor_reading"], stage=sink):
        wait_for_group(settings, "pobi-sink", [settings.topics.norm("sensor_reading")], timeout_s=120)
    [(stored,)] = writer.execute(f"SELECT uniqExact(event_id) FROM {db}.events")
    assert stored >= len(good)
    [(readings,)] = writer.execute(f"SELECT uniqExact(event_id) FROM {db}.readings")
    assert readings == len(good)
    letters = [CODEC.decode(m.value())[1] for m in read_all(settings, settings.topics.dlq("sink"))]
    assert Counter(letter["reason"] for letter in letters)["decode.not_avro"] == 1
    refused = {CODEC.decode(letter["original"])[1]["event_id"] for letter in letters
               if letter["reason"] != "decode.not_avro"}
    assert refused == set(bad)


def clean_reading(n: int) -> dict:
    measured = NOW_MS - n * 1000
    return {
        "event_id": f"r-{n}", "dataset": "sensor_reading", "op": "c",
        "source": {"department": "environment", "system": "aqms", "position": str(n)}, "ts_ms": measured,
        "before": None, "after": SAMPLE_ROWS["sensor_reading"] | {"sensor_id": f"S-{n}"},
        "ingest": {"topic": "ingest.sensor_reading", "partition": 0, "offset": n, "ts_ms": measured},
        "normalized_ts_ms": measured, "entity": {"type": "sensor", "id": f"S-{n}"}, "related": [],
        "quality_flags": [], "enrichment": {"measured_at.epoch_ms": str(measured)},
    }
