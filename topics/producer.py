"""The publisher client: pobi envelopes and dead letters onto Kafka, idempotent, every delivery checked.

    with Publisher(settings) as pub:
        pub.send_event("person", envelope, settings.topics.ingest("person"))
    # leaving the block flushes; PublishError if Kafka did not acknowledge everything
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from foundation.errors import PublishError
from foundation.kafka import client_config, require_kafka
from foundation.settings import Settings
from monitoring.metrics import metrics
from schemas.codec import Codec
from schemas.envelope import record_key
from topics.dead_letters import DeadLetter

__all__ = ["MAX_RECORD_BYTES", "PRODUCER_SETTINGS", "DeliveryStats", "OversizedRecord", "Publisher"]

logger = logging.getLogger(__name__)

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


@dataclass
class DeliveryStats:
    acknowledged: int = 0
    failed: int = 0
    encode_seconds: float = 0.0  # time spent in Avro encoding of change events
    errors: list[str] = field(default_factory=list)


class Publisher:
    """An idempotent confluent-kafka producer (acks=all) that encodes with pobi's codec."""

    def __init__(self, settings: Settings, codec: Codec | None = None,
                 extra_config: dict[str, Any] | None = None) -> None:
        self.codec = codec or Codec()
        self.stats = DeliveryStats()
        require_kafka(settings)
        self._producer = Producer(client_config(settings,
                                                 **{**PRODUCER_SETTINGS, **(extra_config or {})}))
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

    def send_event(self, dataset: str, envelope: dict[str, Any], topic: str) -> None:
        """Encode a change event and send it to ``topic`` (the dataset's ``ingest`` topic in the deployment's
        namespace: ``settings.topics.ingest(dataset)``), keyed by its entity key."""
        schema = self.codec.registry.latest(dataset)
        started = time.perf_counter()
        value = self.codec.encode_with(schema, envelope)
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
        """Wait for every acknowledgement; PublishError if any record was not delivered."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise PublishError(f"{remaining} records were still unacknowledged after {timeout_s:.0f}s; "
                               "is Kafka reachable?")
        if self.stats.failed:
            raise PublishError(f"Kafka refused {self.stats.failed} records: {'; '.join(self.stats.errors)}")
        return self.stats

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.flush()
        else:
            self._producer.flush(10)
