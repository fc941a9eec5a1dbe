"""What each record becomes in ClickHouse, as plain rows per table — pure functions, tested without a server.

A clean event gives one ``events`` row (also the entity's timeline), one ``attributes`` row per known value
(the material of the one-record-per-entity view, each with its department and source time), one ``links``
row per related entity, and a row in its dataset's own table (``readings``, ``case_stages``, ``licences``).
Delivery-log entries, dead letters and arrivals each give one row. The derived tables (``links_in``,
``search_tokens``, ``readings_by_minute``) are ClickHouse's to fill, by materialized views (see ``rebuild``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from streams.rules.ranges import in_view_dates

__all__ = ["COLUMNS", "Rows", "arrival_rows", "clean_event_rows", "dead_letter_rows", "delivery_rows"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("event_id", "dataset", "op", "entity_type", "entity_id", "department", "system", "event_ts_ms",
               "ingest_ts_ms", "normalized_ts_ms", "event_time", "ingest_time", "quality_flags", "related_roles",
               "related_types", "related_ids"),
    "attributes": ("entity_type", "entity_id", "attribute", "value", "department", "system", "source_ts_ms",
                   "event_id"),
    "links": ("from_type", "from_id", "role", "to_type", "to_id", "department", "source_ts_ms", "event_id"),
    "readings": ("sensor_id", "station_id", "division_code", "metric", "value", "unit", "measured_ms",
                 "measured_at", "event_id", "quality_flags"),
    "case_stages": ("case_id", "item_code", "item_name", "department", "applicant_type", "applicant_id", "stage",
                    "stage_ms", "statutory_limit_days", "promised_limit_days", "channel", "trips", "event_id"),
    "licences": ("licence_id", "licence_type", "licence_name", "holder_type", "holder_id", "holder_name", "issuer",
                 "issuer_code", "issued_date", "valid_from", "valid_to", "status", "op", "source_ts_ms", "event_id"),
    "deliveries": ("subscriber", "contract_version", "dataset", "event_id", "entity_type", "entity_id", "fields",
                   "mode", "ts_ms", "delivered_at"),
    "dead_letters": ("dlq_topic", "dlq_partition", "dlq_offset", "stage", "reason", "message", "dataset",
                     "source_topic", "source_partition", "source_offset", "department", "event_id", "ts_ms",
                     "dead_at"),
    "arrivals": ("topic", "partition", "offset", "dataset", "department", "event_id", "ingest_ts_ms",
                 "ingest_time"),
    "entity_reads": ("entity_type", "entity_id", "ts_ms", "reader", "role", "channel", "view", "day"),
}


class Rows:
    """Rows gathered for a batch, per table, kept as columns for clickhouse-driver's columnar insert. Each
    row remembers the record it came from (``origin``, set by the caller before a record's rows are added),
    so rows a table refuses can be traced back to their records."""

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.origins: dict[str, list[int]] = defaultdict(list)
        self.origin = -1

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.tables[table].append(row)
        self.origins[table].append(self.origin)

    def extend(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Several rows of the current record at once."""
        self.tables[table] += rows
        self.origins[table] += [self.origin] * len(rows)

    def discard(self, origin: int) -> None:
        """Forget the rows of one record (its row building failed half-way)."""
        for table, origins in self.origins.items():
            if origin in origins:
                kept = [(o, r) for o, r in zip(origins, self.tables[table], strict=True) if o != origin]
                self.origins[table] = [o for o, _ in kept]
                self.tables[table] = [r for _, r in kept]

    def columns(self, table: str, origins: set[int] | None = None) -> list[list[Any]]:
        """The table's rows as columns; only those of ``origins`` when given."""
        rows = self.tables[table] if origins is None else [
            r for o, r in zip(self.origins[table], self.tables[table], strict=True) if o in origins]
        return [list(column) for column in zip(*rows, strict=True)]

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.tables.values())


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)  # aware, so the driver does not guess a zone


def _day(value: str | None) -> date | None:
    """A Date column's value; a date the column cannot hold is NULL (the normaliser flagged it)."""
    return date.fromisoformat(value) if value and in_view_dates(value) else None


def clean_event_rows(event: dict[str, Any], rows: Rows) -> None:
    row = event["after"] if event["after"] is not None else event["before"]
    entity_type, entity_id = event["entity"]["type"], event["entity"]["id"]
    source = event["source"]
    ts, ingest_ts = event["ts_ms"], event["ingest"]["ts_ms"]
    related = event["related"]
    flags = [f["code"] for f in event["quality_flags"]]
    rows.add("events", (event["event_id"], event["dataset"], event["op"], entity_type, entity_id,
                        source["department"], source["system"], ts, ingest_ts, event["normalized_ts_ms"],
                        _time(ts), _time(ingest_ts), flags, [r["role"] for r in related],
                        [r["type"] for r in related], [r["id"] for r in related]))
    values = {} if row is None else {k: v for k, v in row.items() if v is not None}
    values |= event["enrichment"]
    values["__deleted"] = "1" if event["op"] == "d" else "0"
    department, system, event_id = source["department"], source["system"], event["event_id"]
    rows.extend("attributes", [(entity_type, entity_id, attribute, value if value.__class__ is str else str(value),
                                department, system, ts, event_id) for attribute, value in values.items()])
    if related:
        rows.extend("links", [(entity_type, entity_id, link["role"], link["type"], link["id"], department, ts,
                               event_id) for link in related])
    if row is not None:
        _dataset_row(event, row, rows, flags)


def _dataset_row(event: dict[str, Any], row: dict[str, Any], rows: Rows, flags: list[str]) -> None:
    dataset, enrichment = event["dataset"], event["enrichment"]
    if dataset == "sensor_reading":
        measured = int(enrichment.get("measured_at.epoch_ms", event["ts_ms"]))
        rows.add("readings", (row["sensor_id"], row.get("station_id") or "", row.get("division_code") or "",
                              row["metric"], float(row["value"]), row["unit"], measured, _time(measured),
                              event["event_id"], flags))
    elif dataset == "approval_case":
        stage_ms = int(enrichment.get("stage_time.epoch_ms", event["ts_ms"]))
        rows.add("case_stages", (row["case_id"], row.get("item_code") or "", row.get("item_name") or "",
                                 row.get("department") or "", row.get("applicant_type") or "",
                                 row.get("applicant_id") or "", row["stage"], stage_ms,
                                 row.get("statutory_limit_days"), row.get("promised_limit_days"),
                                 row.get("channel") or "", row.get("trips"), event["event_id"]))
    elif dataset == "licence":
        rows.add("licences", (row["licence_id"], row.get("licence_type") or "", row.get("licence_name") or "",
                              row.get("holder_type") or "", row.get("holder_id") or "", row.get("holder_name") or "",
                              row.get("issuer") or "", enrichment.get("licence_id.issuer", ""),
                              _day(row.get("issued_date")), _day(row.get("valid_from")), _day(row.get("valid_to")),
                              row.get("status") or "", event["op"], event["ts_ms"], event["event_id"]))


def delivery_rows(entry: dict[str, Any], rows: Rows) -> None:
    rows.add("deliveries", (entry["subscriber"], entry["contract_version"], entry["dataset"], entry["event_id"],
                            entry["entity_type"], entry["entity_id"], entry["fields"], entry["mode"], entry["ts_ms"],
                            _time(entry["ts_ms"])))


def read_rows(entry: dict[str, Any], rows: Rows) -> None:
    rows.add("entity_reads", (entry["entity_type"], entry["entity_id"], entry["ts_ms"], entry["reader"],
                              entry["role"], entry["channel"], entry["view"], _time(entry["ts_ms"]).date()))


def dead_letter_rows(letter: dict[str, Any], position: tuple[str, int, int], rows: Rows) -> None:
    context = letter["context"]
    rows.add("dead_letters", (*position, letter["stage"], letter["reason"], letter["message"],
                              letter["dataset"] or "", letter["source_topic"] or "",
                              -1 if letter["source_partition"] is None else letter["source_partition"],
                              -1 if letter["source_offset"] is None else letter["source_offset"],
                              context.get("department", ""), context.get("event_id", ""), letter["ts_ms"],
                              _time(letter["ts_ms"])))


def arrival_rows(event: dict[str, Any], position: tuple[str, int, int], ingest_ts_ms: int, rows: Rows) -> None:
    rows.add("arrivals", (*position, event["dataset"], event["source"]["department"], event["event_id"],
                          ingest_ts_ms, _time(ingest_ts_ms)))
