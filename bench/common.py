"""What the benchmarks share: sending pre-encoded records, the plain consume→produce baseline, timing a stage,
writing a report, and removing a run's topics. Each benchmark measures its own figure beside its baseline, in
the same run."""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from foundation.kafka import client_config
from foundation.settings import Settings
from topics.admin import admin_client
from topics.producer import PRODUCER_SETTINGS

__all__ = ["add_ratios", "consume_produce_baseline", "machine", "remove_topics", "send_encoded", "time_stage",
           "write_report"]

Encoded = list[tuple[bytes, bytes]]


def send_encoded(settings: Settings, topic: str, records: Encoded) -> None:
    """Produce (key, value) pairs as fast as the producer takes them, with pobi's producer settings."""
    producer = Producer(client_config(settings, **PRODUCER_SETTINGS))
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
    consumer = Consumer(client_config(settings, **{
        "group.id": f"{source}-baseline", "auto.offset.reset": "earliest", "enable.auto.offset.store": False,
        "fetch.max.bytes": 52_428_800}))
    producer = Producer(client_config(settings, **PRODUCER_SETTINGS))
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
    admin = admin_client(settings)
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if topics:
        for future in admin.delete_topics(topics).values():
            future.exception(timeout=30)


def time_stage(settings: Settings, stage: Any, records: int, batch_size: int | None = None) -> float:
    """Seconds a stage (run as `pobi worker` runs it) takes for ``records`` waiting on its topics, from its first
    batch to the last one settled."""
    from streams.runner import StageRunner

    runner = StageRunner(settings, stage, batch_size=batch_size)
    first: dict[str, float] = {}
    handle = stage.handle

    def timed(messages: list) -> object:
        first.setdefault("t", time.perf_counter())
        return handle(messages)

    stage.handle = timed
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    while runner.settled < records:
        time.sleep(0.005)
        if not thread.is_alive():
            raise SystemExit(f"the {stage.name} stage stopped early")
    seconds = time.perf_counter() - first["t"]
    stop.set()
    thread.join(30)
    return seconds


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def add_ratios(results: dict[str, dict], baseline: str, digits: int = 3) -> None:
    """Each result's events/s as a share of the baseline's, measured in the same run."""
    base = results[baseline]["events_per_second"]
    for result in results.values():
        result["ratio_to_baseline"] = round(result["events_per_second"] / base, digits)


def write_report(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**report, "machine": machine()}, indent=2, ensure_ascii=False) + "\n")
