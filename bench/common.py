"""What the benchmarks share: sending pre-encoded records, the plain consume→produce baseline, and removing
a run's topics. Each benchmark measures its own figure beside this baseline, in the same run."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer, TopicPartition

from pobi.kafka import client_config
from pobi.publish.producer import PRODUCER_SETTINGS
from pobi.settings import Settings
from topics.admin import admin_client

__all__ = ["consume_produce_baseline", "remove_topics", "send_encoded"]

Encoded = list[tuple[bytes, bytes]]


def send_encoded(settings: Settings, topic: str, records: Encoded) -> None:
    """Produce (key, value) pairs as fast as the producer takes them, with pobi's producer settings."""
    producer = Producer(client_config(settings.kafka_bootstrap, **PRODUCER_SETTINGS))
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0


def consume_produce_baseline(settings: Settings, source: str, target: str, events: int, batch: int = 5000) -> float:
    """Seconds for a plain confluent-kafka loop to forward ``events`` records from ``source`` to ``target``
    (batches, flush and store offsets per batch), from the first batch on: the ceiling here."""
    consumer = Consumer(client_config(settings.kafka_bootstrap, **{
        "group.id": f"{source}-baseline", "auto.offset.reset": "earliest", "enable.auto.offset.store": False,
        "fetch.max.bytes": 52_428_800}))
    producer = Producer(client_config(settings.kafka_bootstrap, **PRODUCER_SETTINGS))
    consumer.subscribe([source])
    seen, started = 0, 0.0
    while seen < events:
        records = [m for m in consumer.consume(batch, 0.5) if m.error() is None]
        if not records:
            continue
        started = started or time.perf_counter()
        for message in records:
            producer.produce(target, value=message.value(), key=message.key())
        assert producer.flush(60) == 0
        last = {(m.topic(), m.partition()): m.offset() for m in records}
        consumer.store_offsets(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()])
        seen += len(records)
    consumer.close()
    return time.perf_counter() - started


def remove_topics(settings: Settings, prefix: str) -> None:
    admin = admin_client(settings.kafka_bootstrap)
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if topics:
        for future in admin.delete_topics(topics).values():
            future.exception(timeout=30)
