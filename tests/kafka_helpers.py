"""Helpers for integration tests on the real Kafka: private topics and reading a topic to its end."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import NewTopic

from foundation.kafka import client_config
from foundation.settings import Settings
from topics.admin import admin_client


def create_topics(settings: Settings, *names: str, partitions: int = 3) -> None:
    admin = admin_client(settings)  # must outlive its futures
    futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    for fut in futures.values():
        fut.result(timeout=15)


def read_all(settings: Settings, topic: str, timeout_s: float = 20.0) -> list[Message]:
    """Every record on ``topic`` up to its current end offsets."""
    consumer = Consumer(client_config(settings, **{
        "group.id": f"test-reader-{time.monotonic_ns()}", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "enable.partition.eof": True}))
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {}
        for p in metadata.partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        out: list[Message] = []
        # the consumer's position, not the last record's offset: it passes the markers that close a fenced
        # stage's transactions, which no record carries
        position = dict.fromkeys(ends, 0)
        deadline = time.monotonic() + timeout_s
        while any(position[p] < ends[p] for p in ends) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.5):
                if msg.error() is None:
                    out.append(msg)
            for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                position[tp.partition] = max(position[tp.partition], tp.offset)
        return out
    finally:
        consumer.close()
