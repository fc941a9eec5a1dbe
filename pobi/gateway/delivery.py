"""The gateway's producer: a request's records go to Kafka together, and the request learns, record by record,
which ones Kafka acknowledged — an HTTP answer may only count what is already safe.

One idempotent confluent-kafka producer (acks=all) serves every request. A thread serves its delivery reports
and resolves each batch's future when the last report is in. Deliveries are bounded in time
(``message.timeout.ms``), so a batch always ends, acknowledged or not; a record whose fate is "not
acknowledged" may still have reached a broker whose answer was lost — which is why every record carries an
event id that makes a client's retry a counted duplicate rather than a second event.

Whether Kafka is reachable is known from the client's own error callback (all brokers down) and checked again
in the background while it is not, so a request arriving during an outage is answered 503 at once instead of
waiting out the timeout.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from foundation.kafka import client_config
from foundation.settings import Settings
from topics.producer import PRODUCER_SETTINGS

__all__ = ["BatchProducer", "OutgoingRecord", "QueueFull"]

logger = logging.getLogger(__name__)
_PROBE_INTERVAL_S = 2.0


class QueueFull(Exception):  # noqa: N818 - the gateway's answer: 429, retry later
    """More records are waiting for Kafka than the gateway holds; the request was not sent."""


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes


class _Batch:
    def __init__(self, size: int) -> None:
        self.errors: list[str | None] = [None] * size
        self.pending = size
        self.future: Future[list[str | None]] = Future()
        self.lock = threading.Lock()

    def report(self, index: int, err: KafkaError | None) -> None:
        with self.lock:
            if err is not None:
                self.errors[index] = err.str()
            self.pending -= 1
            done = self.pending == 0
        if done:
            self.future.set_result(self.errors)


class BatchProducer:
    def __init__(self, settings: Settings, *, delivery_timeout_s: float, max_in_flight: int) -> None:
        self._settings = settings
        self._delivery_timeout_ms = int(delivery_timeout_s * 1000)
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._lock = threading.Lock()
        self._kafka_down = False
        self._stopping = threading.Event()
        self._producer: Producer | None = None
        self._thread: threading.Thread | None = None

    def setup(self) -> None:
        config = {**PRODUCER_SETTINGS, "linger.ms": 5, "delivery.timeout.ms": self._delivery_timeout_ms,
                  "error_cb": self._on_error}
        self._producer = Producer(client_config(self._settings, **config))
        self._thread = threading.Thread(target=self._serve_reports, name="pobi-gateway-deliveries", daemon=True)
        self._thread.start()

    @property
    def kafka_reachable(self) -> bool:
        return not self._kafka_down

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _on_error(self, err: KafkaError) -> None:
        # only "all brokers down": one broker closing an idle connection (_TRANSPORT) is not an outage
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            if not self._kafka_down:
                logger.warning("gateway: Kafka is unreachable (%s); answering 503 until it is back", err.str())
            self._kafka_down = True

    def _serve_reports(self) -> None:
        assert self._producer is not None
        last_probe = 0.0
        while not self._stopping.is_set():
            self._producer.poll(0.05)
            if self._kafka_down and time.monotonic() - last_probe > _PROBE_INTERVAL_S:
                last_probe = time.monotonic()
                try:
                    self._producer.list_topics(timeout=_PROBE_INTERVAL_S)
                except KafkaException:
                    continue
                logger.info("gateway: Kafka is reachable again")
                self._kafka_down = False

    def send(self, records: Sequence[OutgoingRecord]) -> Future[list[str | None]]:
        """Produce ``records``; the future gives, per record, None (acknowledged) or why not. QueueFull when
        the gateway already holds its limit of unacknowledged records (nothing of this batch is sent)."""
        assert self._producer is not None, "setup() first"
        batch = _Batch(len(records))
        if not records:
            batch.future.set_result([])
            return batch.future
        with self._lock:
            if self._in_flight + len(records) > self._max_in_flight:
                raise QueueFull(f"{self._in_flight} records are waiting for Kafka")
            self._in_flight += len(records)

        def settle(index: int) -> Any:
            def on_delivery(err: KafkaError | None, _msg: Message) -> None:
                with self._lock:
                    self._in_flight -= 1
                batch.report(index, err)
            return on_delivery

        for index, record in enumerate(records):
            while True:
                try:
                    self._producer.produce(record.topic, value=record.value, key=record.key,
                                           on_delivery=settle(index))
                    break
                except BufferError:  # librdkafka's own queue: the report thread drains it
                    time.sleep(0.01)
                except KafkaException as exc:  # refused before sending (e.g. too large): this record only
                    with self._lock:
                        self._in_flight -= 1
                    batch.report(index, exc.args[0])
                    break
        return batch.future

    async def deliver(self, records: Sequence[OutgoingRecord]) -> list[str | None]:
        return await asyncio.wrap_future(self.send(records))

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._producer is not None:
            self._producer.flush(self._delivery_timeout_ms / 1000)
