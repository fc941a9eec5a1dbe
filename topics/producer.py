"""The publisher client: pobi envelopes and dead letters onto Kafka, idempotent, every delivery checked.

    with Publisher(settings) as pub:
        pub.send_event("person", envelope, settings.topics.ingest("person"))
    # leaving the block flushes; PublishError if Kafka did not acknowledge everything

A stage's publisher is *fenced* (``commit_with``): every batch is one Kafka transaction that also commits its
consumer's offsets with the consumer group's generation, so a worker that lost its partitions while it was
paused (a zombie) has its late batch refused and aborted — readers (``read_committed``, librdkafka's default)
never see it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition

from foundation.errors import PublishError
from foundation.kafka import client_config, require_kafka
from foundation.settings import Settings
from monitoring.metrics import metrics
from schemas.codec import Codec
from schemas.envelope import record_key
from topics.dead_letters import DeadLetter

__all__ = ["MAX_RECORD_BYTES", "PRODUCER_SETTINGS", "DeliveryStats", "Fenced", "OffsetsToCommit", "OversizedRecord",
           "Publisher", "stage_publisher"]

logger = logging.getLogger(__name__)
_FENCED = {KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.FENCED_INSTANCE_ID,
           KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH,
           KafkaError.REBALANCE_IN_PROGRESS}

PRODUCER_SETTINGS: dict[str, Any] = {
    "enable.idempotence": True,  # implies acks=all and bounded in-flight requests, keeps order
    "acks": "all",
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "delivery.timeout.ms": 120_000,
}
# The largest record pobi produces (key + value), below librdkafka's message.max.bytes (1,000,000) and the
# brokers' max.message.bytes (1 MiB): a larger one is refused by the client, so stages check first.
MAX_RECORD_BYTES = 900_000


class OversizedRecord(PublishError):  # noqa: N818 - a record's fate, not a bug
    """One record is larger than pobi produces; the others are unaffected."""


class Fenced(PublishError):  # noqa: N818 - what happened to the worker, said as the operator sees it
    """Another worker holds this stage's partitions now (this one was paused or cut off past its session
    timeout): the batch's transaction was aborted, none of its records or offsets count."""


# The offsets a fenced publisher commits with each transaction, and its consumer's group metadata
OffsetsToCommit = Callable[[], tuple[list[TopicPartition], Any]]
TRANSACTION_TIMEOUT_MS = 30_000  # a zombie's open transaction holds readers back at most this long


@dataclass
class DeliveryStats:
    acknowledged: int = 0
    failed: int = 0
    encode_seconds: float = 0.0  # time spent in Avro encoding of change events
    errors: list[str] = field(default_factory=list)


class Publisher:
    """An idempotent confluent-kafka producer (acks=all) that encodes with pobi's codec."""

    def __init__(self, settings: Settings, codec: Codec | None = None,
                 extra_config: dict[str, Any] | None = None, *, commit_with: OffsetsToCommit | None = None,
                 transactional_id: str = "") -> None:
        """``commit_with`` makes the publisher fenced: records go out in a transaction per ``flush``, which
        commits the offsets ``commit_with`` gives (``transactional_id`` names the producer, unique per process)."""
        self.codec = codec or Codec()
        self.stats = DeliveryStats()
        require_kafka(settings)
        config = {**PRODUCER_SETTINGS, **(extra_config or {})}
        if commit_with is not None:
            config.update({"transactional.id": transactional_id, "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
                           "delivery.timeout.ms": TRANSACTION_TIMEOUT_MS})  # librdkafka: no longer than the transaction
        self._producer = Producer(client_config(settings, **config))
        self._commit_with = commit_with
        self._in_transaction = False
        if commit_with is not None:
            self._transaction(lambda: self._producer.init_transactions(30))
        self._unpolled = 0

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            self.stats.acknowledged += 1
        else:
            self.stats.failed += 1
            if len(self.stats.errors) < 5:
                self.stats.errors.append(err.str())

    def produce(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.produce_with_headers(topic, key, value, None)

    def produce_with_headers(self, topic: str, key: bytes | None, value: bytes,
                             headers: list[tuple[str, str | bytes | None]] | None) -> None:
        if self._commit_with is not None and not self._in_transaction:
            self._begin()
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=self._on_delivery)
                break
            except BufferError:  # the local queue is full: let deliveries drain, then try again
                self._producer.poll(0.1)
        self._unpolled += 1
        if self._unpolled >= 1000:  # serve delivery reports now and then, not per record: poll costs ~7 µs
            self._producer.poll(0)
            self._unpolled = 0

    def send_event(self, dataset: str, envelope: dict[str, Any], topic: str, *, checked: bool = False) -> None:
        """Encode a change event and send it to ``topic`` (the dataset's ``ingest`` topic in the deployment's
        namespace: ``settings.topics.ingest(dataset)``), keyed by its entity key. ``checked``: the envelope was
        built by ``build_envelope`` from rows ``check_row`` accepted, so the compiled writer may write it
        (``Codec.encode_own``); otherwise fastavro's strict writer does."""
        schema = self.codec.registry.latest(dataset)
        started = time.perf_counter()
        value = self.codec.encode_own(schema, envelope) if checked else self.codec.encode_with(schema, envelope)
        self.stats.encode_seconds += time.perf_counter() - started
        key = record_key(schema, envelope)
        if len(key) + len(value) > MAX_RECORD_BYTES:
            raise OversizedRecord(f"the event has {len(value):,} bytes; records over {MAX_RECORD_BYTES:,} cannot be "
                                  "published (split the row or leave the large field out)")
        self.produce(topic, key, value)

    def send_dead_letter(self, letter: DeadLetter, topic: str) -> None:
        """Send a dead letter to ``topic`` (``dlq.<stage>`` in the deployment's namespace) and count it in
        ``pobi_dlq_total{stage, reason}``, the one metric every stage's letters are counted in."""
        record = letter.record()
        self.produce(topic, record["original_key"], self.codec.encode("dead_letter", record))
        metrics().dead_letters.labels(letter.stage, letter.reason).inc()

    def flush(self, timeout_s: float = 60.0) -> DeliveryStats:
        """Wait for every acknowledgement; PublishError if any record was not delivered. A fenced publisher
        then commits its transaction with the consumer's offsets (Fenced if the group moved on)."""
        remaining = self._producer.flush(timeout_s)
        problem = None
        if remaining:
            problem = f"{remaining} records were still unacknowledged after {timeout_s:.0f}s; is Kafka reachable?"
        elif self.stats.failed:
            problem = f"Kafka refused {self.stats.failed} records: {'; '.join(self.stats.errors)}"
        if problem is not None:
            if self._in_transaction:
                self._abort()
            raise PublishError(problem)
        if self._commit_with is not None:
            self.commit_offsets()
        return self.stats

    def commit_offsets(self) -> None:
        """Commit the open transaction (an empty one if none is open) with the offsets ``commit_with`` gives:
        how a fenced stage's offsets move, also when no record was written."""
        assert self._commit_with is not None, "only a fenced publisher commits offsets"
        if not self._in_transaction:
            self._begin()
        try:  # whatever fails from here on, the open transaction is aborted: readers are never held behind it
            offsets, group = self._commit_with()
            if offsets:
                self._transaction(lambda: self._producer.send_offsets_to_transaction(offsets, group, 20))
            self._transaction(lambda: self._producer.commit_transaction(30))
        except BaseException:
            if self._in_transaction:
                self._abort()
            raise
        self._in_transaction = False

    def _begin(self) -> None:
        self._transaction(self._producer.begin_transaction)
        self._in_transaction = True

    def _abort(self) -> None:
        self._in_transaction = False
        try:
            self._producer.abort_transaction(30)
        except KafkaException as exc:  # a fenced or timed-out producer cannot abort; its transaction is void
            logger.warning("aborting a transaction failed: %s", exc.args[0])

    @staticmethod
    def _transaction(call: Callable[[], object], attempts: int = 2) -> None:
        """A transactional call, tried once more if Kafka says it may; its errors said as pobi's. Fenced — the
        batch is aborted and the stage starts afresh with a new producer — when the group or the producer moved
        on, when the transaction can only be aborted, and when Kafka kept timing out: a producer whose
        coordinator went away with a broker was seen to wait on it for minutes, where a new one finds the
        new coordinator at once."""
        for attempt in range(attempts):
            try:
                call()
                return
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.retriable() and attempt < attempts - 1:
                    logger.warning("Kafka transaction call failed (%s); trying once more", error.str())
                    time.sleep(0.5)
                    continue
                if (error.code() in _FENCED or error.fatal() or error.txn_requires_abort()
                        or error.retriable()):
                    raise Fenced(f"the batch was not committed: {error.str()}") from None
                raise PublishError(f"Kafka transaction failed: {error.str()}") from None

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.flush()
        else:
            self._producer.flush(10)


def stage_publisher(settings: Settings, codec: Codec, stage: str, commit_with: OffsetsToCommit | None) -> Publisher:
    """A stage's publisher: only failed deliveries call back (``flush`` waits for the rest, so per-record
    callbacks buy nothing); fenced when its runner asked (``commit_with``), with a transactional id of its own
    under the stage's group name (what the worker's ACL on ``pobi-*`` transactional ids allows)."""
    return Publisher(settings, codec, {"delivery.report.only.error": True}, commit_with=commit_with,
                     transactional_id=f"{settings.topics.group(stage)}-{uuid.uuid4().hex[:12]}")
