"""Reading one Debezium record (JSON, with or without the ``schema``/``payload`` wrapper) for what it is.

A Debezium topic carries more than row changes: transaction BEGIN/END markers, heartbeats, tombstones after
deletes, truncates, schema changes and logical-decoding messages. Each is recognised and named, so that only
what cannot be read at all becomes a dead letter. Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

__all__ = ["ControlRecord", "RowChange", "Unreadable", "column_value", "read_change"]

ROW_OPS = ("c", "u", "d", "r")
# the parts of ``source`` that say where a change is in the database's log; ``ts_ms`` and ``snapshot`` are
# left out on purpose: a change Debezium re-sends after a restart has a new processing time, same position
POSITION_KEYS = ("lsn", "txId", "file", "pos", "row", "gtid", "change_lsn", "commit_lsn", "event_serial_no",
                 "scn", "commit_scn")
_EPOCH_DAY = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RowChange:
    """A row change in the department's own column names."""

    op: str
    table: str  # schema.table (PostgreSQL) or database.table (MySQL)
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ts_ms: int  # when the database committed it (``source.ts_ms``), not when Debezium read it
    position: str  # connector, database, table and log position: the same on every redelivery
    logical_types: dict[str, str] = field(default_factory=dict)  # column → Connect logical type, if the record said
    decimal_scales: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ControlRecord:
    """Not a row change: consumed and counted, never dead-lettered."""

    kind: str  # transaction.begin | transaction.end | heartbeat | tombstone | truncate | schema_change | message
    table: str = ""


@dataclass(frozen=True)
class Unreadable:
    reason: str  # a stable code
    message: str


def _unwrap(value: Any) -> tuple[dict[str, Any] | None, Any]:
    """(the Connect schema if any, the payload)."""
    if isinstance(value, dict) and "payload" in value and set(value) <= {"schema", "payload"}:
        schema = value.get("schema")
        return (schema if isinstance(schema, dict) else None), value["payload"]
    return None, value


def _schema_name(schema: dict[str, Any] | None) -> str:
    return str(schema.get("name") or "") if schema else ""


def _column_types(schema: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, int]]:
    """Column → logical type name, and column → decimal scale, from the envelope's ``after``/``before``."""
    types: dict[str, str] = {}
    scales: dict[str, int] = {}
    sides = (schema or {}).get("fields")
    for side in sides if isinstance(sides, list) else []:
        if not isinstance(side, dict) or side.get("field") not in ("before", "after"):
            continue
        columns = side.get("fields")
        for column in columns if isinstance(columns, list) else []:
            if isinstance(column, dict) and column.get("name") and isinstance(column.get("field"), str):
                types[column["field"]] = str(column["name"])
                parameters = column.get("parameters")
                scale = parameters.get("scale") if isinstance(parameters, dict) else None
                if isinstance(scale, str) and scale.isdigit():
                    scales[column["field"]] = int(scale)
    return types, scales


def _table(source: dict[str, Any]) -> str:
    container = source.get("schema") or source.get("db") or ""
    return f"{container}.{source.get('table') or ''}"


def _position(source: dict[str, Any]) -> str:
    parts = [f"{key}={source[key]}" for key in POSITION_KEYS if source.get(key) is not None]
    where = ":".join(str(source.get(k) or "") for k in ("connector", "name", "db"))
    return f"debezium:{where}:{_table(source)}:" + ",".join(parts)


def read_change(value: Any) -> RowChange | ControlRecord | Unreadable:
    """What one Debezium record is. ``value`` is the parsed JSON (None for a tombstone)."""
    schema, payload = _unwrap(value)
    if payload is None:
        return ControlRecord("tombstone")
    if not isinstance(payload, dict):
        return Unreadable("debezium.not_change_event", f"expected a JSON object, got {type(payload).__name__}")
    name = _schema_name(schema)
    if payload.get("status") in ("BEGIN", "END") and "id" in payload:
        return ControlRecord(f"transaction.{str(payload['status']).lower()}")
    if name.endswith(".Heartbeat") or (set(payload) == {"ts_ms"}):
        return ControlRecord("heartbeat")
    if "ddl" in payload or "tableChanges" in payload:
        return ControlRecord("schema_change", str(payload.get("databaseName") or ""))
    found = payload.get("source")
    source: dict[str, Any] = found if isinstance(found, dict) else {}
    op = payload.get("op")
    if op == "t":
        return ControlRecord("truncate", _table(source))
    if op == "m":
        return ControlRecord("message")
    if op not in ROW_OPS:
        return Unreadable("debezium.not_change_event",
                          "expected a Debezium change event (payload.op c, u, d or r with before/after), "
                          "a transaction marker or a heartbeat")
    if not source.get("table"):
        return Unreadable("debezium.source", "the change event names no source table (payload.source.table)")
    committed = source.get("ts_ms", payload.get("ts_ms"))
    if not isinstance(committed, int) or isinstance(committed, bool):
        return Unreadable("debezium.ts_ms", f"source.ts_ms should be epoch milliseconds, got "
                                            f"{str(committed)[:40]!r}")
    before, after = payload.get("before"), payload.get("after")
    for side, row in (("before", before), ("after", after)):
        if row is not None and not isinstance(row, dict):
            return Unreadable("debezium.row", f"{side} should be a row (a JSON object), got {type(row).__name__}")
    types, scales = _column_types(schema)
    return RowChange(op, _table(source), before, after, committed, _position(source), types, scales)


def column_value(value: Any, logical: str | None, declared: str | None, scale: int | None = None) -> Any:
    """A column's value as pobi's fields hold it: dates ISO (``1990-03-07``), timestamps ISO in the
    database's own clock, decimals as exact text. ``logical`` is the Connect type the record named;
    ``declared`` the mapping's ``type`` for records without a schema. ValueError if it cannot be read."""
    if value is None:
        return None
    kind = (logical or "").rsplit(".", 1)[-1]
    if kind == "Date" or (not logical and declared == "date" and isinstance(value, int)):
        return (_EPOCH_DAY + timedelta(days=int(value))).isoformat()
    if kind in ("Timestamp", "MicroTimestamp", "NanoTimestamp") and isinstance(value, int):
        divisor = {"Timestamp": 1_000, "MicroTimestamp": 1_000_000, "NanoTimestamp": 1_000_000_000}[kind]
        moment = _EPOCH + timedelta(seconds=value / divisor)
        return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if kind == "Decimal" and isinstance(value, str) and scale is not None:
        unscaled = int.from_bytes(base64.b64decode(value, validate=True), "big", signed=True)
        return str(Decimal(unscaled).scaleb(-scale))
    return value
