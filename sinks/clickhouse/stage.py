"""The ClickHouse sink stage: clean events (``norm.*``), the delivery and read logs (``audit.*``), dead letters
(``dlq.*``) and arrivals (``ingest.*``) become rows of pobi's tables.

The runner hands it batches of up to 10,000 records, or what arrived within 0.2–1 s of a batch's first record
(the wait adapts to load, see ``streams.batching``); each batch is inserted column by column, one insert per
table, before the batch's offsets are stored — on the stage's writing thread, while the next batch's rows are
built (ClickHouse's share of an insert no longer holds up the decoding). While ClickHouse is down the insert
is retried and the stage waits holding that batch and the next (memory stays bounded by two batches). The
tables collapse a replayed batch (see the migrations), and the dashboards' tallies skip the offsets they
already counted (see ``tallies``), so at-least-once delivery does not double any count.

No record stops the sink: one that cannot be decoded or turned into rows, or whose rows ClickHouse refuses
(found by splitting the refused insert until the refusing records are alone), goes to ``dlq.sink`` with the
reason, and the rest of the batch is written. A record of ``dlq.sink`` itself that fails is logged and counted
(``pobi_dead_letters_total{stage="sink", reason="sink.dropped_own_letter"}``), never sent round again.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

from confluent_kafka import Message

from foundation.errors import DecodeError
from foundation.kafka import origin
from foundation.settings import Settings
from monitoring.metrics import metrics
from schemas.codec import Codec
from sinks.clickhouse.queries import TALLY_COVER
from sinks.clickhouse.rows import (
    COLUMNS,
    Rows,
    arrival_rows,
    clean_event_rows,
    dead_letter_rows,
    delivery_rows,
    read_rows,
)
from sinks.clickhouse.tallies import TALLY_COLUMNS, Tally, tally_key
from sinks.clickhouse.writer import ClickHouseWriter, server_message
from streams.runner import BatchWait
from topics.dead_letters import DLQ_STAGES, DeadLetter
from topics.producer import Publisher

__all__ = ["SINK_BATCH", "SinkStage"]

logger = logging.getLogger(__name__)
SINK_BATCH = 10_000


def _topic_kinds(settings: Settings, datasets: list[str]) -> dict[str, str]:
    """Every topic the sink reads, with what its records are."""
    topics = settings.topics
    kinds = {topics.norm(d): "clean" for d in datasets}
    kinds |= {topics.ingest(d): "arrival" for d in datasets}
    kinds |= {topics.dlq(s): "dead_letter" for s in DLQ_STAGES}
    kinds[topics.audit_delivery] = "delivery"
    kinds[topics.audit_read] = "read"
    return kinds


class SinkStage:
    name = "sink"
    batch_size = SINK_BATCH
    # a batch of a lone record waits 0.2 s for company, a busy one up to 1 s: each batch is an insert per
    # table, and ClickHouse merges fewer, larger parts more easily
    batch_wait = BatchWait(0.2, 1.0)

    def __init__(self, settings: Settings, *, datasets: list[str] | None = None, codec: Codec | None = None,
                 writer: ClickHouseWriter | None = None, publisher: Publisher | None = None) -> None:
        """``writer``, ``publisher``: doubles for tests; otherwise ``setup`` (and the first dead letter)
        connect."""
        self.settings = settings
        self.codec = codec or Codec()
        self.datasets = datasets or self.codec.registry.datasets
        self._given_writer = writer
        self.writer: ClickHouseWriter  # set by setup()
        self._kinds = _topic_kinds(settings, self.datasets)
        self._own_dlq = settings.topics.dlq("sink")
        self._publisher = publisher  # made on the first dead letter unless given
        self._writing: ThreadPoolExecutor  # set by setup()
        self.inserted = 0

    def topics(self) -> list[str]:
        return list(self._kinds)

    def setup(self) -> None:
        """The ClickHouse writer (it connects on its first insert, and waits out an unreachable server), and the
        one thread that writes: batches are inserted one at a time, in order (the tallies of one batch read
        what the previous one wrote)."""
        self.writer = self._given_writer or ClickHouseWriter(self.settings)
        self._writing = ThreadPoolExecutor(1, thread_name_prefix="sink-insert")

    @staticmethod
    def topics_for(settings: Settings, datasets: list[str] | None = None) -> list[str]:
        """The topics a sink stage reads, without connecting to anything."""
        return list(_topic_kinds(settings, datasets or Codec().registry.datasets))

    def handle(self, messages: list[Message]) -> Future[None]:
        """Build the batch's rows here; insert them on the stage's one writing thread, while the runner hands
        over the next batch to build (the future completes when this batch's rows are in ClickHouse)."""
        rows, tally = Rows(), Tally()
        refused: dict[int, tuple[str, str]] = {}  # record index → (reason, message)
        for index, message in enumerate(messages):
            rows.origin = index
            problem = self._rows_of(message, rows, tally)
            if problem is not None:
                rows.discard(index)
                refused[index] = problem
        return self._writing.submit(self._write, messages, rows, tally, refused)

    def _write(self, messages: list[Message], rows: Rows, tally: Tally, refused: dict[int, tuple[str, str]]) -> None:
        m = metrics()
        for table in rows.tables:
            started = time.perf_counter()
            refused |= self._insert(table, rows, None)
            m.sink_insert_seconds.labels(table).observe(time.perf_counter() - started)
            m.sink_batch_rows.labels(table).observe(len(rows.tables[table]))
        self._count(tally, set(refused))
        if refused:
            self._dead_letters(messages, refused)
        m.events.labels("*", self.name, "written").inc(len(messages) - len(refused))
        self.inserted += len(rows)

    def _count(self, tally: Tally, refused: set[int]) -> None:
        """The batch's tallies, without the records an earlier run already counted (a replay)."""
        if not tally.topics():
            return
        covered = {(topic, partition): offset for topic, partition, offset in self.writer.execute(
            TALLY_COVER.replace("{db}", self.writer.database), {"topics": tuple(tally.topics())})}
        counted = tally.rows(covered, refused)
        self.writer.insert("stage_tallies", TALLY_COLUMNS, [list(c) for c in zip(*counted, strict=True)])

    def _rows_of(self, message: Message, rows: Rows, tally: Tally) -> tuple[str, str] | None:
        """Add the record's rows and its tally; (reason, message) when it cannot have any."""
        topic, partition, offset = origin(message)
        kind = self._kinds[topic]
        try:
            _schema, record = self.codec.decode(message.value())
        except DecodeError as exc:
            if kind == "arrival":  # not pobi's: the normalise stage reports an undecodable arrival
                return None
            return exc.reason, str(exc)
        try:
            position = (topic, partition, offset)
            if kind == "clean":
                clean_event_rows(record, rows)
            elif kind == "delivery":
                delivery_rows(record, rows)
            elif kind == "read":
                read_rows(record, rows)
            elif kind == "dead_letter":
                dead_letter_rows(record, position, rows)
            elif "event_id" in record:
                arrival_rows(record, position, message.timestamp()[1], rows)
            tally.add(rows.origin, position, tally_key(kind, record, message.timestamp()[1]))
        except Exception as exc:  # a value the columns cannot hold: this record waits in the DLQ
            return "sink.row_invalid", f"{type(exc).__name__}: {str(exc)[:500]}"
        return None

    def _insert(self, table: str, rows: Rows, origins: set[int] | None) -> dict[int, tuple[str, str]]:
        """Insert the rows of ``origins`` (None: all the batch's) into ``table``; when ClickHouse refuses them,
        split until the refusing records are alone, and return those with the refusal."""
        try:
            self.writer.insert(table, COLUMNS[table], rows.columns(table, origins))
            return {}
        except Exception as exc:  # unreachable servers were waited out by the writer: this is the data
            self.writer.client.disconnect()  # a half-sent block leaves the connection unusable
            if origins is None:
                origins = set(rows.origins[table])
            if len(origins) == 1:
                logger.warning("ClickHouse refused the %s rows of one record: %s", table, str(exc)[:300])
                return {next(iter(origins)): ("sink.insert_refused", f"{table}: {type(exc).__name__}: "
                                              f"{server_message(exc)}")}
        ordered = sorted(origins)
        half = len(ordered) // 2
        return self._insert(table, rows, set(ordered[:half])) | self._insert(table, rows, set(ordered[half:]))

    def _dead_letters(self, messages: list[Message], refused: dict[int, tuple[str, str]]) -> None:
        if self._publisher is None:
            self._publisher = Publisher(self.settings, self.codec, {"delivery.report.only.error": True})
        m = metrics()
        for index, (reason, why) in sorted(refused.items()):
            message = messages[index]
            if message.topic() == self._own_dlq:
                logger.error("sink drops its own dead letter %s[%d]@%d: %s", message.topic(), message.partition(),
                             message.offset(), why)
                m.dead_letters.labels(self.name, "sink.dropped_own_letter").inc()
                continue
            self._publisher.send_dead_letter(DeadLetter.of(self.name, reason, why, message,
                                                           context={"kind": self._kinds[origin(message)[0]]}),
                                             self._own_dlq)
        self._publisher.flush()

    def close(self) -> None:
        writing = getattr(self, "_writing", None)  # None when setup() never ran
        if writing is not None:
            writing.shutdown(wait=True)
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.client.disconnect()

