"""What the gateway does with one request's records: check them as `pobi publish` does, leave out the ones
already accepted, send the rest and the refusals' dead letters, and answer only with what Kafka acknowledged.

Duplicates are known from a short record in Redis of the event ids the gateway had acknowledged, with the
digest of each record's content (``<prefix>:gateway:seen:<dataset>:<event id>``, kept as long as the hub's
dedup window). The record is written *after* Kafka's acknowledgement, so a record the gateway never
acknowledged is never reported a duplicate. An id seen before with *other* content is not a duplicate but a
conflict: it is sent, and the normaliser judges it as it judges any reused id. If Redis cannot be reached the
records are sent anyway — the normaliser's dedup still makes them one event on ``norm.*`` — and the answer
simply reports fewer duplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from foundation.settings import Settings
from monitoring.metrics import metrics
from pobi.gateway.delivery import BatchProducer, OutgoingRecord
from pobi.gateway.intake import records_of_body
from pobi.publish.adapters import Draft, Rejected
from pobi.publish.events import EventRules, envelope_for
from schemas.codec import Codec
from schemas.envelope import SourceRef, record_key
from schemas.rows import RowError
from topics.dead_letters import DeadLetter
from topics.producer import MAX_RECORD_BYTES

if TYPE_CHECKING:
    import redis

__all__ = ["Answer", "IngestService", "TooManyRecords"]

logger = logging.getLogger(__name__)


class TooManyRecords(Exception):  # noqa: N818 - the gateway's answer: 413
    """The request holds more records than the gateway takes at once; none of them was sent."""


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    retry_after_s: int | None = None


@dataclass(frozen=True)
class _Event:
    index: int
    event_id: str
    digest: bytes  # of the record as sent (canonical JSON): a repeat has the same, a conflict another
    record: OutgoingRecord


@dataclass
class _Batch:
    events: list[_Event] = field(default_factory=list)
    letters: list[tuple[int, str, OutgoingRecord]] = field(default_factory=list)  # index, reason, record
    rejected: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)


class IngestService:
    def __init__(self, settings: Settings, producer: BatchProducer, codec: Codec | None = None) -> None:
        self.settings = settings
        self.producer = producer
        self.codec = codec or Codec()
        self._redis: redis.Redis | None = None

    def setup(self) -> None:
        from foundation.connect import redis_client

        self._redis = redis_client(self.settings, socket_timeout=2, socket_connect_timeout=2)

    def _seen_key(self, dataset: str, event_id: str) -> str:
        return self.settings.redis_key("gateway", "seen", dataset, event_id)

    def prepare(self, dataset: str, body: bytes, source: SourceRef, idempotency_key: str | None) -> _Batch:
        """Every record of ``body`` as an encoded event or a dead letter (CPU work, no I/O)."""
        schema = self.codec.registry.latest(dataset)
        # a row without an event id is known by its content, or by the client's key and its place in the batch
        label = f"http:{idempotency_key}" if idempotency_key else f"http:{dataset}"
        rules = EventRules(source=source, label=label, default_ts=int(time.time() * 1000))
        batch, digests_here = _Batch(), dict[str, bytes]()
        for item in records_of_body(body):
            if item.line >= self.settings.gateway_max_records:  # before the work: a body of tiny records is cheap
                raise TooManyRecords(f"a request has at most {self.settings.gateway_max_records:,} records")
            if isinstance(item, Draft):
                notes: list[str] = []
                if not idempotency_key and item.position is None:
                    item = Draft(item.line, item.raw, item.before, item.after, op=item.op, event_id=item.event_id,
                                 position=label, ts_ms=item.ts_ms)
                try:
                    envelope = envelope_for(schema, item, rules, notes)
                    value = self.codec.encode_own(schema, envelope)  # envelope_for checked its rows
                    key = record_key(schema, envelope)
                    if len(key) + len(value) > MAX_RECORD_BYTES:
                        raise RowError("record.too_large", f"the event has {len(value):,} bytes; records over "
                                       f"{MAX_RECORD_BYTES:,} cannot be published")
                except RowError as problem:
                    item = Rejected(item.line, item.raw, problem.reason, problem.message)
                except (ValueError, TypeError, OverflowError) as problem:  # what the Avro writer refuses
                    item = Rejected(item.line, item.raw, "value.type", str(problem)[:300])
                else:
                    batch.notes.update(note.partition(":")[0] for note in notes)
                    event = _Event(item.line, envelope["event_id"], hashlib.sha256(item.raw).digest()[:16],
                                   OutgoingRecord(self.settings.topics.ingest(dataset), key, value))
                    if digests_here.get(event.event_id) == event.digest:
                        batch.duplicates.append({"index": event.index, "event_id": event.event_id})
                        continue
                    digests_here.setdefault(event.event_id, event.digest)
                    batch.events.append(event)
                    continue
            batch.rejected.append({"index": item.line, "reason": item.reason, "message": item.message})
            letter = DeadLetter("ingest", item.reason, item.message, item.raw, f"http:{item.line}".encode(), dataset,
                                context={"input": "gateway", "department": source.department,
                                         "system": source.system, "index": str(item.line)}).record()
            batch.letters.append((item.line, item.reason, OutgoingRecord(
                self.settings.topics.dlq("ingest"), letter["original_key"], self.codec.encode("dead_letter", letter))))
        return batch

    def leave_out_seen(self, dataset: str, batch: _Batch) -> None:
        """Move the events the gateway acknowledged before to ``duplicates``."""
        if not batch.events or self._redis is None:
            return
        try:
            seen = self._redis.mget([self._seen_key(dataset, e.event_id) for e in batch.events])
        except Exception as exc:  # Redis down: send anyway, the hub's dedup still holds
            logger.warning("gateway: duplicates not checked (%s)", type(exc).__name__)
            return
        fresh = []
        for event, digest in zip(batch.events, seen, strict=True):
            if digest == event.digest:
                batch.duplicates.append({"index": event.index, "event_id": event.event_id})
            else:  # new, or a reused id with other content: the normaliser judges the conflict
                fresh.append(event)
        batch.events = fresh

    def remember(self, dataset: str, events: list[_Event]) -> None:
        if not events or self._redis is None:
            return
        ttl = self.settings.dedup_ttl_hours * 3600
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.set(self._seen_key(dataset, event.event_id), event.digest, ex=ttl)
                pipe.execute()
        except Exception as exc:
            logger.warning("gateway: acknowledged ids not remembered (%s)", type(exc).__name__)

    async def deliver(self, dataset: str, batch: _Batch) -> Answer:
        """Send the batch, wait for Kafka's answer on every record, and say what happened."""
        records = [e.record for e in batch.events] + [r for _i, _reason, r in batch.letters]
        errors = await self.producer.deliver(records)
        event_errors, letter_errors = errors[: len(batch.events)], errors[len(batch.events):]
        acknowledged = [e for e, err in zip(batch.events, event_errors, strict=True) if err is None]
        indexes = [e.index for e in batch.events] + [i for i, _reason, _r in batch.letters]
        failed = [{"index": i, "message": err} for i, err in zip(indexes, errors, strict=True) if err is not None]
        await asyncio.to_thread(self.remember, dataset, acknowledged)
        for (_i, reason, _r), err in zip(batch.letters, letter_errors, strict=True):
            if err is None:
                metrics().dead_letters.labels("ingest", reason).inc()
        counted = metrics().events
        counted.labels(dataset, "gateway", "accepted").inc(len(acknowledged))
        counted.labels(dataset, "gateway", "rejected").inc(len(batch.rejected))
        counted.labels(dataset, "gateway", "duplicate").inc(len(batch.duplicates))
        body: dict[str, Any] = {"accepted": len(acknowledged), "rejected": batch.rejected,
                                "duplicates": batch.duplicates, "flags": dict(batch.notes)}
        if failed:
            body["not_acknowledged"] = sorted(failed, key=lambda f: int(f["index"]))
            body["error"] = ("Kafka did not acknowledge every record; send the same request again "
                             "(records already accepted come back as duplicates)")
            return Answer(503, body, retry_after_s=5)
        return Answer(200, body)

