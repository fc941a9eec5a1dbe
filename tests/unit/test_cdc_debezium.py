"""Debezium's documented change events (PostgreSQL and MySQL; schema+payload and bare payload; create, update,
delete, snapshot read; transaction markers, heartbeats, tombstones, truncates, schema changes) through the
file adapter with a source mapping: the same rules as the CDC stage, which uses the same two functions."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pobi.publish.adapters import Draft, Rejected, Skipped, read_debezium
from schemas.envelope import SourceRef
from schemas.registry import default_registry
from streams.cdc.debezium import ControlRecord, RowChange, column_value, read_change
from topics.sources import load_source

SAMPLES = Path(__file__).parents[1] / "samples_debezium"
ORIGIN = SourceRef("docs", "debezium-examples")


def _read(name: str) -> list[Draft | Rejected | Skipped]:
    source = load_source(SAMPLES / "customers_source.yaml", default_registry())
    with (SAMPLES / name).open("rb") as f:
        return list(read_debezium(f, "utf-8", default_registry(), "person", ORIGIN, source))


def test_postgresql_examples() -> None:
    items = _read("postgresql.jsonl")
    kinds = [i.reason if isinstance(i, Skipped | Rejected) else i.op for i in items]
    assert kinds == ["c", "debezium.transaction.begin", "u", "debezium.transaction.end", "d", "debezium.tombstone",
                     "debezium.heartbeat", "r", "r", "debezium.truncate"]
    create, update, delete, read2, read3 = (i for i in items if isinstance(i, Draft))
    assert create.after == {"id_number": "1", "name": "Anne", "gender": None, "birth_date": None,
                            "division_code": None, "address": "annek@noanswer.org", "phone": None}
    assert create.ts_ms == 1559033904863  # the database's commit time (source.ts_ms), not payload.ts_ms
    assert update.before is None and update.after["name"] == "Anne Marie"  # a key-only before is "not known"
    assert delete.after is None and delete.before["id_number"] == "1" and delete.before["name"] is None
    assert read2.position != read3.position and read2.event_id != read3.event_id  # one snapshot LSN, two rows
    assert "lsn=24023128" in create.position and "txId=555" in create.position
    assert len({d.event_id for d in (create, update, delete, read2, read3)}) == 5


def test_mysql_examples_pretty_printed() -> None:
    items = _read("mysql.json")
    kinds = [i.reason if isinstance(i, Skipped | Rejected) else i.op for i in items]
    assert kinds == ["c", "u", "d", "r", "r", "debezium.schema_change"]  # six events, not 234 lines
    create, update, delete, read1, read2 = (i for i in items if isinstance(i, Draft))
    assert create.line == 1 and "file=mysql-bin.000003,pos=154,row=0" in create.position
    assert update.before["name"] == "Anne" and update.after["name"] == "Anne Marie"  # a full before is kept
    assert delete.before["id_number"] == "1004"
    assert read1.event_id != read2.event_id  # rows of one snapshot share one binlog position


def test_a_redelivered_change_has_the_same_event_id() -> None:
    line = (SAMPLES / "postgresql.jsonl").read_bytes().splitlines()[0]
    again = orjson.loads(line)
    again["payload"]["ts_ms"] += 60_000  # Debezium read it again after a restart: a new processing time
    source = load_source(SAMPLES / "customers_source.yaml", default_registry())
    first, second = read_debezium([line, orjson.dumps(again)], "utf-8", default_registry(), "person", ORIGIN, source)
    assert isinstance(first, Draft) and isinstance(second, Draft)
    assert first.event_id == second.event_id and first.ts_ms == second.ts_ms


@pytest.mark.parametrize(("change", "reason"), [
    ({"source": {"ts_ms": "1559033904863"}}, "debezium.ts_ms"),
    ({"source": {"table": "orders"}}, "cdc.table_not_mapped"),
    ({"after": {"id": 9, "first_name": "x", "last_name": "y", "email": "z", "vip": True}}, "cdc.unmapped_column"),
    ({"op": "x"}, "debezium.not_change_event"),
    ({"after": "not a row"}, "debezium.row"),
])
def test_what_cannot_be_mapped_is_rejected_with_its_reason(change: dict, reason: str) -> None:
    event = orjson.loads((SAMPLES / "postgresql.jsonl").read_bytes().splitlines()[0])["payload"]
    for key, value in change.items():
        event[key] = {**event[key], **value} if isinstance(value, dict) and key == "source" else value
    source = load_source(SAMPLES / "customers_source.yaml", default_registry())
    [item] = read_debezium([orjson.dumps(event)], "utf-8", default_registry(), "person", ORIGIN, source)
    assert isinstance(item, Rejected) and item.reason == reason


def test_a_table_of_another_dataset_is_refused_without_a_mapping() -> None:
    event = orjson.loads((SAMPLES / "postgresql.jsonl").read_bytes().splitlines()[0])
    [item] = read_debezium([orjson.dumps(event)], "utf-8", default_registry(), "person", ORIGIN)
    assert isinstance(item, Rejected) and item.reason == "cdc.table_not_mapped" and "--mapping" in item.message


def test_an_unfinished_pretty_printed_event_is_one_dead_letter() -> None:
    lines = [b"{", b'  "op": "c",', b'  "after": {']
    [item] = read_debezium(lines, "utf-8", default_registry(), "person", ORIGIN)
    assert isinstance(item, Rejected) and item.reason == "json.malformed" and item.line == 1


def test_connect_logical_types() -> None:
    assert column_value(7370, "io.debezium.time.Date", None) == "1990-03-07"
    assert column_value(7370, None, "date") == "1990-03-07"
    assert column_value(1_700_000_000_123_456, "io.debezium.time.MicroTimestamp", None) == "2023-11-14 22:13:20"
    assert column_value("AeJA", "org.apache.kafka.connect.data.Decimal", None, 2) == "1234.56"
    assert column_value("x", None, None) == "x"


def test_controls_are_named() -> None:
    assert read_change(None) == ControlRecord("tombstone")
    assert read_change({"status": "END", "id": "1:2", "event_count": 0}) == ControlRecord("transaction.end")
    assert isinstance(read_change({"op": "c", "after": {}, "source": {"table": "t", "ts_ms": 1}}), RowChange)


@pytest.mark.parametrize("schema", [{"fields": 5}, {"fields": [{"field": "after", "fields": 7}]}, [1, 2],
                                    {"fields": [{"field": "after", "fields": [{"field": "x", "name": "y",
                                                                               "parameters": "z"}]}]}])
def test_a_forged_schema_never_stops_the_reader(schema: object) -> None:
    event = orjson.loads((SAMPLES / "postgresql.jsonl").read_bytes().splitlines()[0])
    event["schema"] = schema
    change = read_change(event)  # the schema only refines types: the row change is still read
    assert isinstance(change, RowChange) and change.after is not None
