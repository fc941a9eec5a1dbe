"""The object services: what pobi knows about a person, an enterprise or a licence (``object``), what
happened to it (``timeline``), finding it (``search``), and who received its data (``tracker``). The CLI and
the worker's HTTP API (and the console on it) call these; ``reads`` answers who looked at an entity.

An id may be given in any spelling the normaliser accepts (full-width, lower-case x, spaces, a legacy
15-digit number); one that fails its check gets that said, rather than an empty answer.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from foundation.errors import PobiError, StoreError
from foundation.topic_names import Topics
from schemas.registry import SchemaRegistry
from sinks.clickhouse.queries import OBJECT_QUERIES, VIEW_QUERIES
from sinks.clickhouse.search import fold, lookup_token
from streams.normalize.classify import ENTITY_TYPES
from streams.rules.credit_code import normalize_uscc
from streams.rules.identity import normalize_id_number
from streams.rules.licence import LICENCE_ROOT, normalize_licence_id
from streams.rules.outcome import RuleViolation
from streams.rules.text import compact_identifier
from topics.dead_letters import DLQ_STAGES

__all__ = ["ConnectionPool", "ContractPurposes", "ObjectService", "current_values", "field_labels", "object_service",
           "resolve_id"]

Execute = Callable[[str, dict[str, Any]], list[tuple[Any, ...]]]


_CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{5,63}")


def resolve_id(text: str, today: date) -> tuple[str, str]:
    """(entity type, normalised id) of an ID number, credit code, licence id or approval case number; PobiError
    saying what is wrong with it otherwise. A number of 15 or 18 characters is judged as an ID number or a
    credit code first, so a mistyped one is explained rather than looked up as a case."""
    raw = text.strip()
    if raw.replace(" ", "").startswith(LICENCE_ROOT):
        try:
            return "licence", normalize_licence_id(raw).value
        except RuleViolation as exc:
            raise PobiError(f"{raw!r} is not a valid licence identifier: {exc.message}") from None
    compact = compact_identifier(raw) or ""
    looks_personal = len(compact) in (15, 18) and compact[:-1].isdigit() and compact[-1] in "0123456789X"
    if looks_personal:
        try:
            return "person", normalize_id_number(raw, today=today).value
        except RuleViolation as exc:
            if len(compact) == 15 or exc.code != "id_number.checksum":
                raise PobiError(f"{raw!r} is not a valid ID number: {exc.message}") from None
            person_error = exc.message
    if len(compact) == 18:
        try:
            return "enterprise", normalize_uscc(raw).value
        except RuleViolation as exc:
            what = f"an ID number ({person_error}) nor a credit code" if looks_personal else "a valid credit code"
            raise PobiError(f"{raw!r} is not {what}: {exc.message}") from None
    if _CASE_ID.fullmatch(raw) and not raw.isdigit():
        return "case", raw  # an approval case's number, as its department wrote it
    raise PobiError(f"{raw!r} is not an ID number (18 or 15 characters), a credit code (18), a licence id "
                    f"({LICENCE_ROOT}.…) or a case number")


def field_labels(registry: SchemaRegistry) -> dict[str, dict[str, str]]:
    """Per entity type, each field's name as a clerk reads it: its doc up to the first space or punctuation
    (``姓名``, ``公民身份号码``; an enterprise's ``name`` is ``企业名称``). Pure."""
    labels: dict[str, dict[str, str]] = {}
    for dataset in registry.datasets:
        mine = labels.setdefault(ENTITY_TYPES.get(dataset, dataset), {})
        for spec in registry.latest(dataset).fields:
            label = re.split(r"[\s:：(（,，;；]", spec.doc.strip(), maxsplit=1)[0]
            if label:
                mine.setdefault(spec.name, label)
    return labels


def current_values(said: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    """Per attribute, from (attribute, department, value, when) — each department's last word: the current
    value (the newest word; the survivorship rule), who said it and when, every department that did, and the
    other departments' words that differ from it. Pure."""
    values: dict[str, dict[str, Any]] = {}
    for attribute, department, value, ts_ms in sorted(said, key=lambda r: (r[0], -r[3], r[1])):
        current = values.get(attribute)
        if current is None:
            values[attribute] = {"value": value, "department": department, "source_ts_ms": ts_ms,
                                 "sources": [department], "others": []}
            continue
        current["sources"] = sorted({*current["sources"], department})
        if value != current["value"]:
            current["others"].append({"department": department, "value": value, "source_ts_ms": ts_ms})
    return values


class ObjectService:
    def __init__(self, execute: Execute, database: str, today: Callable[[], date],
                 purposes: Callable[[], dict[str, str]] = dict, topics: Topics | None = None) -> None:
        self._execute = execute
        self._topics = topics or Topics("")
        self._db = database
        self._today = today
        self._purposes = purposes

    def _query(self, name: str, **params: Any) -> list[tuple[Any, ...]]:
        return self._execute(OBJECT_QUERIES[name].replace("{db}", self._db), params)

    def object(self, text: str) -> dict[str, Any]:
        kind, entity_id = resolve_id(text, self._today())
        said = self._query("attributes", entity_type=kind, entity_id=entity_id)
        if not said:
            raise PobiError(f"no {kind} {entity_id} has passed through pobi")
        values = current_values(said)
        deleted = values.pop("__deleted", {}).get("value") == "1"
        stages = [{"stage": st, "stage_ms": ms, "statutory_limit_days": statutory, "promised_limit_days": promised}
                  for st, ms, statutory, promised in self._query("case_stages", entity_id=entity_id)] \
            if kind == "case" else []
        return {"entity_type": kind, "entity_id": entity_id, "deleted": deleted, "stages": stages,
                "attributes": {k: v for k, v in values.items() if "." not in k},
                "derived": {k: v["value"] for k, v in values.items() if "." in k},
                "related": [{"direction": d, "role": r, "type": t, "id": i, "department": dep, "source_ts_ms": ts}
                            for d, r, t, i, dep, ts in self._query("links", entity_type=kind, entity_id=entity_id)]}

    def timeline(self, text: str, limit: int = 200) -> dict[str, Any]:
        kind, entity_id = resolve_id(text, self._today())
        rows = self._query("timeline", entity_type=kind, entity_id=entity_id, limit=limit)
        return {"entity_type": kind, "entity_id": entity_id, "events": [
            {"ts_ms": ts, "dataset": ds, "op": op, "department": dep, "system": sys_, "event_id": eid,
             "quality_flags": list(flags), "ingest_ts_ms": ingest}
            for ts, ds, op, dep, sys_, eid, flags, ingest in rows]}

    def search(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """Id-prefix matches first (for an ASCII fragment), then names holding the fragment, newest first;
        ``matched`` says which: "id", or the attribute that holds the name ("name", "legal_rep_name", …)."""
        needle = text.strip()
        if not needle or (needle.isascii() and len(needle) < 2):
            raise PobiError("search needs a name fragment (one Chinese character is enough) or two characters")
        found: dict[tuple[str, str], dict[str, Any]] = {}
        prefix = "".join(c for c in (compact_identifier(needle) or "").upper() if c.isalnum() or c == ".")
        if needle.isascii() and len(prefix) >= 2:
            for kind, entity_id, label in self._query("search_ids", prefix=prefix + "%", limit=limit):
                found[kind, entity_id] = {"entity_type": kind, "entity_id": entity_id, "label": label,
                                          "matched": "id"}
        if len(found) < limit:
            for kind, entity_id, label, attribute, _newest in self._query(
                    "search_names", token=lookup_token(needle), text=fold(needle), limit=limit):
                found.setdefault((kind, entity_id), {"entity_type": kind, "entity_id": entity_id, "label": label,
                                                     "matched": attribute})
        return list(found.values())[:limit]

    def reads(self, text: str, limit: int = 500) -> dict[str, Any]:
        """Who looked at the entity through the console or the API, newest first."""
        kind, entity_id = resolve_id(text, self._today())
        rows = self._query("reads", entity_type=kind, entity_id=entity_id, limit=limit)
        return {"entity_type": kind, "entity_id": entity_id, "reads": [
            {"ts_ms": ts, "reader": reader, "role": role, "channel": channel, "view": view}
            for ts, reader, role, channel, view in rows]}

    def view(self, name: str) -> dict[str, Any]:
        """One dashboard's rows (``VIEW_QUERIES``)."""
        if name not in VIEW_QUERIES:
            raise PobiError(f"no view {name!r}; views: {', '.join(VIEW_QUERIES)}")
        rows = self._execute(VIEW_QUERIES[name].replace("{db}", self._db), {})
        return {"view": name, "rows": [list(row) for row in rows]}

    def dead_letters(self, stage: str, reason: str, limit: int = 50) -> dict[str, Any]:
        """The newest dead letters of one stage and reason, with each record's reason and origin."""
        if stage not in DLQ_STAGES:
            raise PobiError(f"no stage {stage!r}; stages: {', '.join(DLQ_STAGES)}")
        rows = self._query("dead_letters", dlq_topic=self._topics.dlq(stage), reason=reason, limit=limit)
        return {"letters": [
            {"ts_ms": ts, "stage": stage, "reason": why, "message": message, "dataset": dataset,
             "origin": f"{topic}/{partition}/{offset}" if topic else "", "department": department,
             "event_id": event_id}
            for ts, stage, why, message, dataset, topic, partition, offset, department, event_id in rows]}

    def tracker(self, text: str, limit: int = 500) -> dict[str, Any]:
        kind, entity_id = resolve_id(text, self._today())
        purposes = self._purposes()
        rows = self._query("tracker", entity_type=kind, entity_id=entity_id, limit=limit)
        return {"entity_type": kind, "entity_id": entity_id, "deliveries": [
            {"subscriber": s, "contract_version": v, "purpose": purposes.get(s, ""), "dataset": ds,
             "event_id": eid, "fields": list(fields), "mode": mode, "ts_ms": ts}
            for s, v, ds, eid, fields, mode, ts in rows]}


class ConnectionPool:
    """One ClickHouse connection per concurrent caller (clickhouse-driver's client is not thread-safe), at
    most ``size`` at once; a caller waits up to ``wait_s`` for one, then StoreError. A connection that failed
    is dropped, not reused."""

    def __init__(self, connect: Callable[[], Any], size: int = 8, wait_s: float = 10.0) -> None:
        self._connect = connect
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._wait_s = wait_s

    def __call__(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        if not self._slots.acquire(timeout=self._wait_s):
            raise StoreError(f"every ClickHouse connection was busy for {self._wait_s:.0f} s")
        try:
            try:
                writer = self._idle.get_nowait()
            except queue.Empty:
                writer = self._connect()
            try:
                rows: list[tuple[Any, ...]] = writer.execute(query, params)
            except BaseException:
                writer.client.disconnect()
                raise
            self._idle.put(writer)
            return rows
        finally:
            self._slots.release()


def object_service(settings: Any, *, connections: int = 1) -> ObjectService:
    """The services on the deployment's ClickHouse, with purposes from the contracts on the hub; up to
    ``connections`` queries at once (the HTTP API's request threads), each on its own connection."""
    from datetime import datetime

    from foundation.clock import CST
    from sinks.clickhouse.writer import ClickHouseWriter

    pool = ConnectionPool(lambda: ClickHouseWriter(settings, wait=False, query=True), size=connections)
    return ObjectService(pool, settings.clickhouse_database, lambda: datetime.now(CST).date(),
                         ContractPurposes(settings), settings.topics)


class ContractPurposes:
    """subscriber → purpose, from the contracts on the hub: read once, then followed (a poll at most once a
    second, which returns at once when nothing changed) — not a Kafka read per tracker request. With Kafka
    away the last purposes known are kept."""

    def __init__(self, settings: Any) -> None:
        self._settings = settings
        self._book: Any = None
        self._lock = threading.Lock()
        self._polled = 0.0

    def __call__(self) -> dict[str, str]:
        from topics.subscriptions import ContractBook  # the tracker's alone: Kafka, and slow to import

        with self._lock:
            try:
                if self._book is None:
                    book = ContractBook(self._settings)
                    book.load()
                    self._book = book
                elif time.monotonic() - self._polled > 1.0:
                    self._book.refresh()
                self._polled = time.monotonic()
            except PobiError:
                if self._book is None:
                    return {}
            return {s: str((d.get("contract") or {}).get("purpose", "")) for s, d in self._book.documents.items()}
