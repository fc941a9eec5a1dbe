"""The change-data-capture stage: Debezium's topics (``cdc.<source>.*``) in, pobi change events on
``ingest.<dataset>`` out, so a department's database enters the hub exactly as a published file does and is
normalised, deduplicated and fanned out by the same stages.

Per record: read what it is (``streams.cdc.debezium``) → a row change is mapped by its source's definition
(``pobi.sources``; the department and system come from there, never from the record) and sent to its
dataset's ingest topic; transaction markers, heartbeats and tombstones are counted and consumed; truncates
and schema changes are counted and logged as what they are; anything else goes to ``dlq.ingest`` with its
reason and origin. The batch's records are acknowledged by Kafka before ``handle`` returns.
"""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import Future
from typing import Any

import orjson
from confluent_kafka import Message

from foundation.kafka import origin
from foundation.settings import Settings
from monitoring.metrics import metrics
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope
from schemas.rows import RowError
from streams.cdc.debezium import ControlRecord, Unreadable, read_change
from streams.cdc.mapping import map_change
from streams.runner import BatchWait, completed
from topics.dead_letters import DeadLetter, DlqLimit
from topics.producer import OversizedRecord, Publisher
from topics.sources import SourceBook, SourceDefinition

__all__ = ["CdcStage"]

logger = logging.getLogger(__name__)
_LOGGED_CONTROLS = ("truncate", "schema_change")


class CdcStage:
    name = "cdc"
    batch_size: int | None = None
    batch_wait: BatchWait | None = None

    def __init__(self, settings: Settings, *, datasets: list[str] | None = None, codec: Codec | None = None,
                 book: SourceBook | None = None, publisher: Publisher | None = None) -> None:
        self.settings = settings
        self.codec = codec or Codec()
        self.datasets = datasets or self.codec.registry.datasets  # changes for other datasets wait in the DLQ
        self._given = (book, publisher)
        self.book: SourceBook  # set by setup()
        self.publisher: Publisher
        self._dlq_topic = settings.topics.dlq("ingest")
        self._cdc_prefix = settings.topics.named("cdc.")
        self._heartbeats = settings.topics.cdc_heartbeats + "."
        self._limit = DlqLimit(self.name, settings.dlq_limit, settings.dlq_limit_window)

    def topics(self) -> list[str]:
        return [self.settings.topics.cdc_pattern]

    def setup(self) -> None:
        book, publisher = self._given
        if book is None:
            book = SourceBook(self.settings)
            book.load()
        self.book = book
        self.publisher = publisher or Publisher(self.settings, self.codec, {"delivery.report.only.error": True})

    def handle(self, messages: list[Message]) -> Future[None]:
        self.book.refresh()
        counts: Counter[tuple[str, str]] = Counter()
        refused: Counter[str] = Counter()
        for message in messages:
            try:
                dataset, outcome = self._one(message)
            except Exception as exc:  # a bug must not stop the hub on one record: it waits in the DLQ
                logger.error("CDC of %s[%d]@%d failed unexpectedly: %s", *origin(message), exc)
                dataset, outcome = self._dead(message, "-", "cdc.unexpected_error",
                                              f"{type(exc).__name__}: {str(exc)[:500]}")
                refused["cdc.unexpected_error"] += 1
            counts[(dataset, outcome)] += 1
        self._limit.observe(len(messages), refused)
        self.publisher.flush()
        for (dataset, outcome), n in counts.items():
            metrics().events.labels(dataset, self.name, outcome).inc(n)
        return completed()

    def _source_of(self, topic: str) -> SourceDefinition | None:
        """``cdc.<source>.<schema>.<table>`` (or ``.transaction``) → the source in force, if any."""
        name = topic[len(self._cdc_prefix):].split(".", 1)[0] if topic.startswith(self._cdc_prefix) else ""
        if topic.startswith(self._heartbeats):  # cdc.heartbeat.cdc.<source>
            name = topic[len(self._heartbeats) + len(self._cdc_prefix):].split(".", 1)[0]
        return self.book.source(name)

    def _one(self, message: Message) -> tuple[str, str]:
        """Send or dead-letter one record; (dataset or "-", what became of it)."""
        topic, partition, offset = origin(message)
        raw = message.value()
        try:
            parsed: Any = None if raw is None else orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return self._dead(message, "-", "json.malformed", f"not valid JSON: {exc}")
        change = read_change(parsed)
        if isinstance(change, ControlRecord):
            if change.kind in _LOGGED_CONTROLS:
                logger.warning("%s on %s at %s[%d]@%d: recorded, nothing to publish", change.kind,
                               change.table or "the source", topic, partition, offset)
            return "-", change.kind
        if isinstance(change, Unreadable):
            return self._dead(message, "-", change.reason, change.message)
        source = self._source_of(topic)
        if source is None:
            return self._dead(message, "-", "cdc.unknown_source", f"no source in force on "
                              f"{self.settings.topics.sources} writes to {topic} (`pobi sources apply`)")
        try:
            mapped = map_change(source, change, self.codec.registry)
        except RowError as problem:
            return self._dead(message, "-", problem.reason, problem.message, source)
        if mapped.dataset not in self.datasets:
            return self._dead(message, mapped.dataset, "cdc.dataset_not_served",
                              f"this worker does not take {mapped.dataset}", source)
        envelope = build_envelope(
            self.codec.registry.latest(mapped.dataset), event_id=mapped.event_id, op=mapped.op,
            source=SourceRef(source.department, source.system), position=mapped.position, ts_ms=mapped.ts_ms,
            before=mapped.before, after=mapped.after)
        try:
            self.publisher.send_event(mapped.dataset, envelope, topic=self.settings.topics.ingest(mapped.dataset))
        except OversizedRecord as problem:
            return self._dead(message, mapped.dataset, "record.too_large", str(problem), source)
        except (ValueError, TypeError, OverflowError) as problem:  # what the Avro writer refuses
            return self._dead(message, mapped.dataset, "value.type", str(problem)[:300], source)
        return mapped.dataset, "sent"

    def _dead(self, message: Message, dataset: str, reason: str, why: str,
              source: SourceDefinition | None = None) -> tuple[str, str]:
        context = {"stage": self.name}
        if source is not None:
            context |= {"source": source.source, "department": source.department, "system": source.system}
        self.publisher.send_dead_letter(
            DeadLetter.of("ingest", reason, why, message, dataset=None if dataset == "-" else dataset,
                          context=context), self._dlq_topic)
        return dataset, "dlq"

    def close(self) -> None:
        book, publisher = self._given
        if getattr(self, "publisher", None) is not None and publisher is None:
            self.publisher.flush()
        if getattr(self, "book", None) is not None and book is None:
            self.book.close()
