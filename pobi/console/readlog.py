"""The read log: every read of an entity through the object services — the console or the API — becomes a record
on ``audit.read`` (who, when, which view), which the sink writes to ClickHouse's ``entity_reads``; the data
tracker shows it beside the deliveries. A read is recorded after it was answered; Kafka being away costs the
record (logged), never the answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from foundation.settings import Settings
from topics.producer import Publisher

__all__ = ["ReadLog", "Reader"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reader:
    """Who reads: a name, a role (viewer, operator, api) and the channel (console or api)."""

    name: str
    role: str
    channel: str


class ReadLog:
    def __init__(self, settings: Settings, clock: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self._settings = settings
        self._clock = clock
        self._publisher: Publisher | None = None

    def setup(self) -> None:
        self._publisher = Publisher(self._settings, extra_config={"delivery.report.only.error": True,
                                                                  "linger.ms": 50})

    def record(self, reader: Reader, entity_type: str, entity_id: str, view: str) -> None:
        if self._publisher is None:
            return
        entry = {"entity_type": entity_type, "entity_id": entity_id, "view": view, "reader": reader.name,
                 "role": reader.role, "channel": reader.channel, "ts_ms": self._clock()}
        try:
            self._publisher.produce(self._settings.topics.audit_read, entity_id.encode(),
                                    self._publisher.codec.encode("read_record", entry))
        except Exception as exc:  # the answer was given; a lost record is logged, not raised at the reader
            logger.error("read of %s %s by %s not recorded: %s", entity_type, entity_id, reader.name, exc)

    def close(self) -> None:
        if self._publisher is not None:
            try:
                self._publisher.flush(10)
            except Exception as exc:  # stopping: what could not be sent is said, not raised
                logger.error("read log: %s", exc)
            self._publisher = None
