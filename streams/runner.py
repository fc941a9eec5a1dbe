"""Runs a batch stage on a confluent-kafka consumer with librdkafka's at-least-once pattern: offsets are
*stored* only after the stage's ``handle`` returned (its records acknowledged by Kafka, its Redis state
confirmed) and committed in the background from there; ``close`` commits what was stored.

A stage that writes to Kafka is *fenced* (``FencedStage``): each batch is a Kafka transaction that commits, with
the consumer group's generation, the offsets the runner holds confirmed — one batch behind, since a batch's Redis
confirmation follows its commit. A worker that lost its partitions while paused (a zombie) has its late batch
refused and aborted; the runner then starts the stage afresh (a new consumer, producer and dedup token), so the
worker rejoins instead of writing twice.

Why not a Faust agent here: on this 2-core machine Faust's stream machinery alone tops out near 12,000
events/s with an empty agent body (measured; see the README), below the 20,000/s the normalisation stage
must sustain, and ``take()`` acks a batch even when its body raises. The worker process is still a Faust
app: it hosts the stages as services (``pobi.worker.app``) and runs the low-volume agents.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from foundation.errors import PobiError
from foundation.kafka import client_config, origin
from foundation.settings import Settings
from monitoring.metrics import metrics
from streams.batching import BatchWait, BatchWindow
from topics.producer import Fenced, OffsetsToCommit

__all__ = ["DEFAULT_WAIT", "BatchStage", "BatchWait", "FencedStage", "StageError", "StageRunner", "completed"]

logger = logging.getLogger(__name__)
DEFAULT_WAIT = BatchWait(0.01, 0.25)  # a batch's wait after its first record (see ``streams.batching``)
IDLE_POLL_S = 0.5  # how long an idle runner waits for a first record before it looks after its offsets
_NO_MEMBER = "(no member)"  # never a consumer's member id


def completed() -> Future[None]:
    """What a stage whose effects are durable when ``handle`` returns gives back."""
    future: Future[None] = Future()
    future.set_result(None)
    return future


class StageError(PobiError):
    """A stage cannot go on (Kafka refused its records, a topic is missing); nothing was committed."""


class BatchStage(Protocol):
    """What the runner needs of a stage — all of it. Constructing a stage does no I/O; ``setup`` does."""

    name: str  # also names the consumer group (``pobi-<name>``) and the stage in metrics and dead letters
    batch_size: int | None  # records per batch; None: the worker's setting (POBI_WORKER_BATCH)
    batch_wait: BatchWait | None  # bounds on a batch's wait after its first record; None: the runner's default

    def topics(self) -> list[str]:
        """The topics to read (``^…`` for a pattern). Pure: called before ``setup``."""

    def setup(self) -> None:
        """Connect what the stage writes to and read what it needs (contracts, state checks); once, before
        the first batch. Raise to refuse to start: nothing has been read."""

    def handle(self, messages: list[Message]) -> Future[None]:
        """Process one batch. Its records must be acknowledged by Kafka before this returns; the returned
        future completes when the batch's last effect (its Redis confirmation) is durable. A record that
        cannot pass goes to the stage's DLQ with its origin and is part of the batch's effects; raise, or
        fail the future, only for what is not the record (a broken dependency): the batch's offsets are then
        not stored."""

    def close(self) -> None:
        """Release what ``setup`` opened, after the last batch settled; safe when ``setup`` failed half-way."""


@runtime_checkable
class FencedStage(BatchStage, Protocol):
    """A stage whose Kafka writes are transactional and commit the consumer's offsets (normalise, fan-out)."""

    # True: a Redis confirmation follows the commit (normalise), so a batch's own offsets wait for the next
    # transaction; False: the batch is done when its transaction commits (fan-out), which carries its offsets
    confirms_after_commit: bool

    def fence(self, offsets: OffsetsToCommit) -> bool:
        """Before ``setup``: write each batch in a transaction that commits ``offsets()``. False when the stage
        cannot (a test gave it a publisher double): the runner then stores offsets as for any stage."""

    def commit_offsets(self) -> None:
        """Commit ``offsets()`` now in an empty transaction: the runner's idle moments and its last act."""


class StageRunner:
    def __init__(self, settings: Settings, stage: BatchStage, *, group: str | None = None,
                 batch_size: int | None = None,
                 consumer_factory: Callable[[dict[str, Any]], Consumer] = Consumer) -> None:
        """``consumer_factory`` makes the consumer from its config: confluent-kafka's, or a test's double."""
        self.stage = stage
        self._consumer_factory = consumer_factory
        self.group = group or settings.topics.group(stage.name)
        # a stage may fix its own batch shape (the ClickHouse sink: 10,000 records, and waits of 0.2–1 s)
        self.batch_size = batch_size or stage.batch_size or settings.worker_batch
        self.window = BatchWindow(stage.batch_wait or DEFAULT_WAIT)
        self.settled = 0  # records whose effects are durable and offsets stored
        self.fenced_restarts = 0
        self._restarts_in_a_row = 0  # since the last batch that settled
        self._lag_reported: set[tuple[str, int]] = set()
        self._fenced = isinstance(stage, FencedStage) and stage.fence(self._offsets_to_commit)
        self._confirms_after_commit = isinstance(stage, FencedStage) and stage.confirms_after_commit
        self._in_hand: dict[tuple[str, int], int] = {}  # the batch being handled, when its commit carries it
        self._consumer: Consumer | None = None
        self._member = ""
        self._confirmed: dict[tuple[str, int], int] = {}  # next offset whose predecessors are all confirmed
        self._first_read: dict[tuple[str, int], int] = {}  # where reading began since the partition came
        self._handed: dict[tuple[str, int], int] = {}  # what the last transaction was given to commit
        self._idle_positions: dict[tuple[str, int], int] = {}  # positions last counted as handled when idle
        self._config = client_config(
            settings, **{
                "group.id": self.group, "enable.auto.commit": not self._fenced, "auto.commit.interval.ms": 1000,
                "enable.auto.offset.store": False, "auto.offset.reset": "earliest",
                # eager for a pattern (the CDC stage's cdc.*): a consumer closing in the middle of a
                # cooperative rebalance of a regex subscription was seen to hang in librdkafka
                "partition.assignment.strategy": "range" if any(t.startswith("^") for t in stage.topics())
                else "cooperative-sticky",
                # a stage waiting out a Redis outage must not lose its partitions; crashes are still
                # noticed by the missing heartbeats (session timeout)
                "max.poll.interval.ms": 1_800_000, "session.timeout.ms": 10_000,
                # a stage reading a pattern (the CDC stage: cdc.*) sees a new table's topic within seconds
                "topic.metadata.refresh.interval.ms": 10_000,
                # a backlog is read ahead by 32 MB per consumer, not 256: a stage process stays near 100 MB
                "fetch.max.bytes": 16_777_216, "queued.max.messages.kbytes": 32_768,
            })

    def run(self, stop: threading.Event) -> None:
        """Consume and handle batches until ``stop`` is set; StageError if the stage cannot go on. A fenced
        stage that finds its partitions taken over starts afresh and rejoins the group."""
        while True:
            try:
                self._run(stop)
                return
            except Fenced as exc:
                if stop.is_set():
                    return
                self.fenced_restarts += 1
                logger.warning("stage %s: %s; its batch was aborted, it rejoins with a new consumer", self.stage.name,
                               exc)
                self._restarts_in_a_row += 1
                stop.wait(min(30.0, 0.5 * self._restarts_in_a_row))  # a Kafka that stays away is not hammered

    def _run(self, stop: threading.Event) -> None:
        """A batch's offsets are stored (or, fenced, handed to the next transaction) when its future completes,
        in batch order; the next batch is fetched and handled meanwhile, so the last Redis round trip of one
        batch overlaps the next."""
        consumer = self._consumer = self._consumer_factory(self._config)
        self._confirmed, self._first_read, self._handed, self._idle_positions = {}, {}, {}, {}
        self._member = ""
        pending: deque[tuple[Future[None], list[TopicPartition], int]] = deque()
        try:
            self._require_topics(consumer)
            self.stage.setup()
            if self._fenced:  # positions of partitions that go away must not be committed by this runner
                consumer.subscribe(self.stage.topics(), on_revoke=self._forget, on_lost=self._forget)
            else:
                consumer.subscribe(self.stage.topics())
            logger.info("stage %s reads %s as group %s", self.stage.name, ", ".join(self.stage.topics()), self.group)
            lag_due = 0.0
            while not stop.is_set():
                if time.monotonic() >= lag_due:
                    self._report_lag(consumer)
                    lag_due = time.monotonic() + 5.0
                batch = self._poll(consumer)
                if batch:
                    self._note_reading(consumer, batch)
                    offsets = _next_offsets(batch)
                    if self._fenced and not self._confirms_after_commit:  # records and offsets in one transaction
                        self._in_hand = {(tp.topic, tp.partition): tp.offset for tp in offsets}
                    started = time.perf_counter()
                    try:
                        pending.append((self.stage.handle(batch), offsets, len(batch)))
                    finally:
                        self._in_hand = {}
                    self.window.handled(time.perf_counter() - started)
                while pending and (len(pending) > 1 or not batch or pending[0][0].done()):
                    self._settle(consumer, *pending.popleft())
                if not batch:
                    self._settle_to_position(consumer)
                if not batch and self._fenced and self._confirmed != self._handed:
                    self._commit_now()
            while pending:
                self._settle(consumer, *pending.popleft())
            if self._fenced and self._confirmed != self._handed:
                self._commit_now()
        finally:
            self.stage.close()
            consumer.close()  # commits the stored offsets and leaves the group at once

    def _settle(self, consumer: Consumer, done: Future[None], offsets: list[TopicPartition], size: int) -> None:
        done.result()  # a failed confirmation stops the stage before these offsets are stored
        if self._fenced:  # the next transaction commits them; a partition that went away is not ours to commit
            held = {(tp.topic, tp.partition) for tp in consumer.assignment()}
            self._confirmed.update({(tp.topic, tp.partition): tp.offset for tp in offsets
                                    if (tp.topic, tp.partition) in held})
        else:
            try:
                consumer.store_offsets(offsets=offsets)
            except KafkaException as exc:  # the partition moved to another worker meanwhile: it re-reads them
                logger.warning("offsets of a handled batch not stored (%s); they will be read again", exc)
        self.settled += size
        self._restarts_in_a_row = 0

    def _settle_to_position(self, consumer: Consumer) -> None:
        """Idle, with every record read settled: the consumer's position counts as handled. It lies past the
        transaction markers that close a fenced stage's batches, which no record carries; without this a group
        reading ``norm.*`` would stay one offset behind the end of each partition, never caught up."""
        try:
            assigned = consumer.assignment()
            positions = [tp for tp in consumer.position(assigned) if tp.offset >= 0] if assigned else []
        except KafkaException as exc:
            logger.debug("positions not read: %s", exc)
            return
        ahead = [tp for tp in positions if self._idle_positions.get((tp.topic, tp.partition)) != tp.offset]
        if not ahead:
            return
        if self._fenced:
            for tp in ahead:
                if self._confirmed.get((tp.topic, tp.partition), -1) < tp.offset:
                    self._confirmed[(tp.topic, tp.partition)] = tp.offset
        else:
            try:
                consumer.store_offsets(offsets=ahead)
            except KafkaException as exc:
                logger.debug("positions not stored: %s", exc)
                return
        self._idle_positions.update({(tp.topic, tp.partition): tp.offset for tp in ahead})

    # -- fencing ----------------------------------------------------------------------------------------------
    def _note_reading(self, consumer: Consumer, batch: list[Message]) -> None:
        """Where reading began on each partition, and the member the batch was read as (fenced stages only:
        no other stage commits them, so the others pay no per-record loop for them)."""
        if not self._fenced:
            return
        for message in batch:
            topic, partition, offset = origin(message)
            self._first_read.setdefault((topic, partition), offset)
        # read while in no group generation (a session that timed out, before the rejoin): never committed
        self._member = consumer.memberid() or _NO_MEMBER

    def _offsets_to_commit(self) -> tuple[list[TopicPartition], Any]:
        """For every partition held: the confirmed position, or where reading began (a no-op commit that still
        carries the group's generation, so even a batch with nothing confirmed yet is fenced). A consumer that
        is no longer the member that read the batch is fenced here, before Kafka is asked."""
        consumer = self._consumer
        assert consumer is not None
        member = consumer.memberid() or ""
        if self._member and member != self._member:  # empty: no batch read yet, nothing to guard
            raise Fenced("the consumer left the group since it read this batch")
        held = {(tp.topic, tp.partition) for tp in consumer.assignment()}
        positions = {**self._first_read, **self._confirmed, **self._in_hand}
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(positions.items()) if (t, p) in held]
        if offsets and not member:
            # a zombie whose session timed out still holds its partitions until the loss is served; without a
            # member id and generation the broker commits a transaction's offsets without checking either
            raise Fenced("the consumer is in no group generation: its offsets cannot be committed")
        self._handed = {**self._confirmed, **self._in_hand}
        return offsets, consumer.consumer_group_metadata()

    def _commit_now(self) -> None:
        assert isinstance(self.stage, FencedStage)
        self.stage.commit_offsets()

    def _forget(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions revoked or lost: their positions are no longer this runner's to commit."""
        for tp in partitions:
            for book in (self._confirmed, self._first_read, self._handed, self._idle_positions):
                book.pop((tp.topic, tp.partition), None)

    def _report_lag(self, consumer: Consumer) -> None:
        """Per assigned partition: the high watermark the consumer last saw minus its position. Partitions it
        no longer holds are set to 0, so another process's value for them wins."""
        gauge = metrics().consumer_lag
        held = set()
        try:
            assigned = consumer.assignment()
            for tp in consumer.position(assigned) if assigned else []:
                _low, high = consumer.get_watermark_offsets(tp, cached=True)
                if tp.offset >= 0 and high >= 0:
                    gauge.labels(self.group, tp.topic, str(tp.partition)).set(max(0, high - tp.offset))
                    held.add((tp.topic, tp.partition))
        except KafkaException as exc:
            logger.debug("lag not measured: %s", exc)
        for topic, partition in self._lag_reported - held:
            gauge.labels(self.group, topic, str(partition)).set(0)
        self._lag_reported = held

    def _require_topics(self, consumer: Consumer) -> None:
        known = consumer.list_topics(timeout=10).topics
        missing = [t for t in self.stage.topics() if t not in known and not t.startswith("^")]  # ^ a pattern
        if missing:
            raise StageError(f"topics {', '.join(missing)} do not exist; run `pobi topics apply` first")

    def _poll(self, consumer: Consumer) -> list[Message]:
        """A batch: it opens with its first record (waited for up to IDLE_POLL_S) and closes when full or when
        the window's wait after that record is over."""
        first = consumer.poll(IDLE_POLL_S)
        if first is None:
            return []
        rest = consumer.consume(self.batch_size - 1, self.window.wait_s) if self.batch_size > 1 else []
        batch = []
        for message in (first, *rest):
            error = message.error()
            if error is None:
                batch.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                if error.fatal():
                    raise StageError(f"Kafka consumer failed: {error.str()}")
                logger.warning("stage %s: %s", self.stage.name, error.str())
        return batch


def _next_offsets(batch: list[Message]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for message in batch:
        topic, partition, offset = origin(message)
        last[(topic, partition)] = offset
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]
