"""Normalisation throughput for one worker on ``person`` events, beside two figures measured in the same run.

    .venv/bin/python bench/normalize_bench.py [--events 100000] [--json bench/results/normalize.json]

baseline: a plain confluent-kafka consume→produce loop over the same topic (batches of 5,000, the bytes
          forwarded unchanged to another topic, flushed and offsets stored per batch): what Kafka and
          librdkafka cost here with no work at all.
pobi:     the worker's normalisation stage (``StageRunner`` + ``NormalizeStage``, the code `pobi worker`
          runs): decode, Redis reservation, rules, classification, encode, produce, wait for acks, Redis
          confirmation and ledger, store offsets.
faust:    an empty Faust agent (``noack_take`` + ack) over the same topic: the ceiling pobi would have if the
          stage ran as a Faust stream.
Timing starts when the first batch arrives (so group joins are not counted) and stops when the last event
is handled. Needs the local stack (`pobi stack up`); topics and Redis keys are private to the run and removed
afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from pobi.demo.traffic import DemoTraffic
from pobi.dlq import DLQ_STAGES
from pobi.kafka import client_config
from pobi.publish.envelope import SourceRef, build_envelope, record_key
from pobi.publish.producer import PRODUCER_SETTINGS, Publisher
from pobi.settings import Settings, load_settings
from schemas.codec import Codec
from streams.stages.normalize import NormalizeStage
from streams.stages.runner import StageRunner
from topics.admin import admin_client

SOURCE = SourceRef("public-security", "hukou")
BATCH = 5000


def publish_people(settings: Settings, topic: str, events: int) -> None:
    codec = Codec()
    schema = codec.registry.latest("person")
    traffic = DemoTraffic(seed=5)  # 5 % dirty, 2 % invalid: the DLQ path is part of the work
    with Publisher(settings) as publisher:
        for n in range(events):
            envelope = build_envelope(schema, event_id=f"bench-{n}", op="c", source=SOURCE, position=str(n),
                                      ts_ms=int(time.time() * 1000), before=None, after=traffic.person())
            publisher.produce(topic, record_key(schema, envelope), codec.encode_with(schema, envelope))


def baseline(settings: Settings, source: str, target: str, events: int) -> float:
    consumer = Consumer(client_config(settings.kafka_bootstrap, **{
        "group.id": f"{source}-baseline", "auto.offset.reset": "earliest", "enable.auto.offset.store": False,
        "fetch.max.bytes": 52_428_800}))
    producer = Producer(client_config(settings.kafka_bootstrap, **PRODUCER_SETTINGS))
    consumer.subscribe([source])
    seen, started = 0, 0.0
    while seen < events:
        batch = [m for m in consumer.consume(BATCH, 0.5) if m.error() is None]
        if not batch:
            continue
        started = started or time.perf_counter()
        for message in batch:
            producer.produce(target, value=message.value(), key=message.key())
        assert producer.flush(60) == 0
        last = {(m.topic(), m.partition()): m.offset() for m in batch}
        consumer.store_offsets(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()])
        seen += len(batch)
    consumer.close()
    return time.perf_counter() - started


class _FirstBatchClock(NormalizeStage):
    started = 0.0

    def handle(self, messages: list) -> Future[None]:
        self.started = self.started or time.perf_counter()
        return super().handle(messages)


def pobi_stage(settings: Settings, events: int) -> float:
    stage = _FirstBatchClock(settings, datasets=["person"])
    runner = StageRunner(settings, stage, batch_size=BATCH)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    while runner.settled < events:
        time.sleep(0.01)
        if not thread.is_alive():
            raise SystemExit("the stage stopped early")
    seconds = time.perf_counter() - stage.started
    stop.set()
    thread.join(30)
    return seconds


def faust_ceiling(settings: Settings, topic: str, events: int) -> float:
    result = settings.stack_path / "bench" / "faust-ceiling.txt"
    result.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_TOPIC": topic, "BENCH_EVENTS": str(events), "BENCH_RESULT": str(result),
           "POBI_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "BENCH_DATADIR": str(result.parent)}
    run = subprocess.run([sys.executable, str(Path(__file__).with_name("faust_ceiling.py")), "worker", "-l", "warn"],
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    if not result.exists():
        raise SystemExit(f"the Faust ceiling run failed:\n{run.stderr[-2000:]}")
    return float(result.read_text().split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=Path("bench/results/normalize.json"))
    args = parser.parse_args()
    settings = load_settings(namespace=f"bench{int(time.time())}")
    names = [settings.topic(t) for t in ("ingest.person", "norm.person", "baseline.out",
                                         *(f"dlq.{s}" for s in DLQ_STAGES))]
    admin = admin_client(settings.kafka_bootstrap)
    from confluent_kafka.admin import NewTopic

    for fut in admin.create_topics([NewTopic(t, 6, 1) for t in names]).values():
        fut.result(timeout=15)
    results: dict[str, dict] = {}
    try:
        publish_people(settings, settings.topic("ingest.person"), args.events)
        timings = {
            "baseline: plain confluent-kafka consume→produce": baseline(
                settings, settings.topic("ingest.person"), settings.topic("baseline.out"), args.events),
            "pobi normalisation stage (one worker)": pobi_stage(settings, args.events),
            "faust: empty agent, noack_take + ack": faust_ceiling(settings, settings.topic("ingest.person"),
                                                                  args.events),
        }
        for name, seconds in timings.items():
            results[name] = {"events_per_second": round(args.events / seconds), "seconds": round(seconds, 3)}
    finally:
        admin.delete_topics(names)
        client = redis.Redis(host=settings.redis_host, port=settings.redis_port)
        for key in client.scan_iter(f"{settings.redis_key()}:*", count=10_000):
            client.delete(key)
    base = results["baseline: plain confluent-kafka consume→produce"]["events_per_second"]
    for r in results.values():
        r["ratio_to_baseline"] = round(r["events_per_second"] / base, 2)
    report = {"events": args.events, "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}", "results": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"| run ({args.events:,} person events) | events/s | seconds | vs baseline |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['events_per_second']:,} | {r['seconds']} | {r['ratio_to_baseline']} |")


if __name__ == "__main__":
    main()
