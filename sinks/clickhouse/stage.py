"""The ClickHouse sink stage: clean events (``norm.*``), the delivery log (``audit.delivery``), dead letters
(``dlq.*``) and arrivals (``ingest.*``) become rows of pobi's tables.

The runner hands it batches of up to 10,000 records or whatever arrived within a second, whichever comes
first; each batch is inserted column by column, one insert per table, before the batch's offsets are stored.
While ClickHouse is down the insert is retried and the stage waits holding that one batch (memory stays
bounded by the batch). The tables collapse a replayed batch (see the migrations), so at-least-once delivery
does not double any count.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future

from confluent_kafka import Message

from monitoring.metrics import metrics
from pobi.dlq import DLQ_STAGES
from pobi.errors import DecodeError
from pobi.settings import Settings
from schemas.codec import Codec
from sinks.clickhouse.rows import (
    COLUMNS,
    Rows,
    arrival_rows,
    clean_event_rows,
    dead_letter_rows,
    delivery_rows,
)
from sinks.clickhouse.writer import ClickHouseWriter
from streams.stages.runner import completed

__all__ = ["SINK_BATCH", "SinkStage"]

logger = logging.getLogger(__name__)
SINK_BATCH = 10_000


def _topic_kinds(settings: Settings, datasets: list[str]) -> dict[str, str]:
    """Every topic the sink reads, with what its records are."""
    topic = settings.topic
    kinds = {topic(f"norm.{d}"): "clean" for d in datasets}
    kinds |= {topic(f"ingest.{d}"): "arrival" for d in datasets}
    kinds |= {topic(f"dlq.{s}"): "dead_letter" for s in DLQ_STAGES}
    kinds[topic("audit.delivery")] = "delivery"
    return kinds


class SinkStage:
    name = "sink"
    batch_size = SINK_BATCH
    poll_timeout_s = 1.0

    def __init__(self, settings: Settings, *, datasets: list[str] | None = None, codec: Codec | None = None,
                 writer: ClickHouseWriter | None = None) -> None:
        self.settings = settings
        self.codec = codec or Codec()
        self.datasets = datasets or self.codec.registry.datasets
        self.writer = writer or ClickHouseWriter(settings)
        self._kinds = _topic_kinds(settings, self.datasets)
        self.inserted = 0

    def topics(self) -> list[str]:
        return list(self._kinds)

    @staticmethod
    def topics_for(settings: Settings, datasets: list[str] | None = None) -> list[str]:
        """The topics a sink stage reads, without connecting to anything."""
        return list(_topic_kinds(settings, datasets or Codec().registry.datasets))

    def handle(self, messages: list[Message]) -> Future[None]:
        rows = Rows()
        for message in messages:
            kind = self._kinds[message.topic()]
            try:
                _schema, record = self.codec.decode(message.value())
            except DecodeError as exc:  # not pobi's: an undecodable arrival is the normalize stage's to report
                if kind != "arrival":
                    logger.warning("sink skips %s[%s]@%s: %s", message.topic(), message.partition(),
                                   message.offset(), exc)
                continue
            position = (message.topic(), message.partition(), message.offset())
            if kind == "clean":
                clean_event_rows(record, rows)
            elif kind == "delivery":
                delivery_rows(record, rows)
            elif kind == "dead_letter":
                dead_letter_rows(record, position, rows)
            elif "event_id" in record:
                arrival_rows(record, position, message.timestamp()[1], rows)
        m = metrics()
        for table in rows.tables:
            started = time.perf_counter()
            self.writer.insert(table, COLUMNS[table], rows.columns(table))
            m.sink_insert_seconds.labels(table).observe(time.perf_counter() - started)
            m.sink_batch_rows.labels(table).observe(len(rows.tables[table]))
        m.events.labels("*", self.name, "written").inc(len(messages))
        self.inserted += len(rows)
        return completed()

    def close(self) -> None:
        self.writer.client.disconnect()
