"""The fan-out stage: every clean event on ``norm.*``, for each contract in force that selects it, becomes a
delivery on ``out.<subscriber>`` (projected, masked, encoded with the contract's delivery schema, keyed by the
masked entity id so one entity's deliveries stay in order) and an entry on ``audit.delivery``.

Contracts come from ``pobi.subscriptions`` and are re-read before every batch, so a change applies without a
restart; a withdrawn contract gets nothing more, nor does one past its ``valid_until`` (logged once).
At least once: the batch's offsets are stored only after Kafka acknowledged every delivery and log entry, so
a crash repeats deliveries with the same event ids rather than losing any.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from datetime import date, datetime

from confluent_kafka import Message

from foundation.clock import CST
from foundation.errors import DecodeError
from foundation.kafka import origin
from foundation.secrets import hub_key, hub_key_id
from foundation.settings import Settings
from monitoring.metrics import metrics, observe_many
from schemas.codec import Codec
from schemas.confluent import canonical_form, schema_fingerprint
from streams.fanout.deliver import DeliveryLog, Grant, compile_grants
from streams.runner import BatchWait, completed
from topics.contract import LEGACY_FORMAT, SubscriptionContract
from topics.dead_letters import DeadLetter, DlqLimit
from topics.producer import MAX_RECORD_BYTES, OffsetsToCommit, Publisher, stage_publisher
from topics.schema_ids import SchemaIds
from topics.subscriptions import ContractBook, contract_feed, refuse_other_key

__all__ = ["FanoutStage"]

logger = logging.getLogger(__name__)


class FanoutStage:
    name = "fanout"
    batch_size: int | None = None
    batch_wait: BatchWait | None = None
    confirms_after_commit = False  # nothing follows the commit: a batch is exactly once

    def __init__(self, settings: Settings, *, datasets: list[str] | None = None, codec: Codec | None = None,
                 clock: Callable[[], int] = lambda: int(time.time() * 1000), publisher: Publisher | None = None,
                 book: ContractBook | None = None, ids: SchemaIds | None = None) -> None:
        """``publisher``, ``book``, ``ids``: doubles for tests; otherwise ``setup`` connects to Kafka."""
        self.settings = settings
        self.codec = codec or Codec()
        self.clock = clock
        self.datasets = datasets or self.codec.registry.datasets
        self.publisher: Publisher  # set by setup()
        self.book: ContractBook
        self._closers: list[Callable[[], None]] = []
        self._given = (publisher, book)
        self._ids = ids  # the registry's ids (``pobi.schemas``), read once a contract's feed names one
        self._given_ids = ids
        self._commit_with: OffsetsToCommit | None = None
        self._grants: dict[str, list[Grant]] = {}
        self._contracts: dict[str, SubscriptionContract] = {}
        self._modes: dict[str, str] = {}
        self._expired: set[str] = set()
        self._audit_topic = settings.topics.audit_delivery
        self._dlq_topic = settings.topics.dlq("delivery")
        self._dataset_of = {settings.topics.norm(d): d for d in self.datasets}
        self._log = DeliveryLog(self.codec.registry.latest("delivery_record"))
        self.delivered: Counter[str] = Counter()
        self._limit = DlqLimit(self.name, settings.dlq_limit, settings.dlq_limit_window)

    def topics(self) -> list[str]:
        return list(self._dataset_of)

    def fence(self, offsets: OffsetsToCommit) -> bool:
        if self._given[0] is not None:
            return False
        self._commit_with = offsets
        return True

    def commit_offsets(self) -> None:
        self.publisher.commit_offsets()

    def setup(self) -> None:
        """The producer, and the contracts in force (refusing a hub key other than theirs)."""
        publisher, book = self._given
        self._ids = self._given_ids  # set up again after a fence: what ``close`` closed is made anew
        self.publisher = publisher or stage_publisher(self.settings, self.codec, self.name, self._commit_with)
        if book is None:
            book = ContractBook(self.settings)
            self._closers.append(book.close)
            book.load()
        self.book = book
        self._compile()

    def _compile(self) -> None:
        """Grants, delivery modes and end dates of the contracts in force; rebuilt only when they change."""
        self._grants, self._contracts = {}, {}
        contracts = self.book.contracts(self.codec.registry)
        key = hub_key(self.settings) if contracts else b""  # needed once there are contracts: theirs, no other
        if contracts:
            refuse_other_key(self.book.documents, hub_key_id(key), self.settings)
        feed_ids = self._feed_ids(contracts)
        for contract in contracts:
            metrics().known(metrics().deliveries, (contract.subscriber, contract.delivery))
            self._modes[contract.subscriber] = contract.delivery
            self._contracts[contract.subscriber] = contract
            for grant in compile_grants(contract, self.codec.registry, key, feed_ids.get(contract.subscriber, 0)):
                self._grants.setdefault(grant.dataset, []).append(grant)

    def _feed_ids(self, contracts: list[SubscriptionContract]) -> dict[str, int]:
        """subscriber → the registry id of its feed's schema, for the formats that name one; a schema new to
        ``pobi.schemas`` is recorded there (acknowledged) before any record names it."""
        feeds = {c.subscriber: contract_feed(c, self.codec.registry) for c in contracts
                 if c.feed_format != LEGACY_FORMAT}
        if not feeds:
            return {}
        if self._ids is None:
            self._ids = SchemaIds(self.settings)
            self._closers.append(self._ids.close)
            self._ids.load()
        ids = self._ids.ensure({schema_fingerprint(s): canonical_form(s) for s in feeds.values()})
        return {subscriber: ids[schema_fingerprint(schema)] for subscriber, schema in feeds.items()}

    def _in_force(self, today: date) -> dict[str, list[Grant]]:
        in_force: dict[str, list[Grant]] = {}
        for dataset, grants in self._grants.items():
            for grant in grants:
                contract = self._contracts[grant.subscriber]
                if contract.active_on(today):
                    in_force.setdefault(dataset, []).append(grant)
                elif grant.subscriber not in self._expired:
                    self._expired.add(grant.subscriber)
                    logger.warning("contract %s expired on %s: its deliveries stop", grant.subscriber,
                                   contract.valid_until)
        return in_force

    def handle(self, messages: list[Message]) -> Future[None]:
        if self.book.refresh():
            self._compile()
        now_ms = self.clock()
        in_force = self._in_force(datetime.fromtimestamp(now_ms / 1000, CST).date())
        latencies: list[tuple[str, int]] = []
        refused: Counter[str] = Counter()
        for message in messages:
            try:
                latencies += self._fan_out(message, in_force, now_ms)
            except _Undeliverable as exc:
                self._dead_letter(message, exc.reason, exc.message)
                refused[exc.reason] += 1
            except Exception as exc:  # a bug must not stop the hub on one record: it waits in the DLQ
                logger.error("fan-out of %s[%d]@%d failed unexpectedly: %s", message.topic(), message.partition(),
                             message.offset(), exc)
                self._dead_letter(message, "fanout.unexpected_error", f"{type(exc).__name__}: {str(exc)[:500]}")
                refused["fanout.unexpected_error"] += 1
        self._limit.observe(len(messages), refused)
        self.publisher.flush()
        m, delivered_ms = metrics(), time.time() * 1000
        by_subscriber: dict[str, list[float]] = {}
        for subscriber, ingest_ms in latencies:
            by_subscriber.setdefault(subscriber, []).append(max(0.0, delivered_ms - ingest_ms) / 1000)
        for subscriber, seconds in by_subscriber.items():
            mode = self._modes[subscriber]
            m.deliveries.labels(subscriber, mode).inc(len(seconds))
            observe_many(m.delivery_latency.labels(subscriber, mode), seconds)
        m.events.labels("*", self.name, "read").inc(len(messages))
        return completed()

    def _fan_out(self, message: Message, in_force: dict[str, list[Grant]], now_ms: int) -> list[tuple[str, int]]:
        """Produce the record's deliveries and log entries; (subscriber, ingest time) per delivery. The dataset
        is the topic's, whatever the event says; _Undeliverable for a record that cannot be fanned out."""
        try:
            _schema, event = self.codec.decode(message.value())
        except DecodeError as exc:
            raise _Undeliverable(exc.reason, str(exc)) from None
        dataset = self._dataset_of[origin(message)[0]]
        if event.get("dataset") != dataset or _schema.subject != f"{dataset}.clean":
            raise _Undeliverable("event.wrong_dataset", f"a record claiming {str(event.get('dataset'))[:60]!r} "
                                 f"({_schema.subject}) on {message.topic()}")
        outgoing = []
        event_part = b""
        for grant in in_force.get(dataset, ()):
            if not grant.selects(event):
                continue
            key, record = grant.delivery(event, now_ms)
            value, headers = grant.writer.encode(record)
            if len(key) + len(value) > MAX_RECORD_BYTES:
                raise _Undeliverable("delivery.too_large", f"the delivery to {grant.subscriber} has {len(value):,} "
                                     "bytes")
            event_part = event_part or self._log.event_part(event)
            audit = self._log.entry(grant, event_part, now_ms, self._modes[grant.subscriber])
            outgoing.append((grant.subscriber, key, value, headers, event["entity"]["id"].encode(), audit))
        for subscriber, key, value, headers, entity_key, audit in outgoing:  # all or none of an event's deliveries
            self.publisher.produce_with_headers(self.settings.topics.out(subscriber), key, value, headers)
            self.publisher.produce(self._audit_topic, entity_key, audit)
            self.delivered[subscriber] += 1
        return [(subscriber, event["ingest"]["ts_ms"]) for subscriber, *_ in outgoing]

    def _dead_letter(self, message: Message, reason: str, why: str) -> None:
        self.publisher.send_dead_letter(DeadLetter.of(self.name, reason, why, message), self._dlq_topic)

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()


class _Undeliverable(Exception):  # noqa: N818 - a record's fate, not a bug
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
