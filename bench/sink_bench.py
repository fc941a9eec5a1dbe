"""ClickHouse sink throughput, and publish-to-visible latency at a steady load, on the local stack.

    .venv/bin/python bench/sink_bench.py [--events 100000] [--rate 500] [--seconds 30]

throughput: clean ``person`` events waiting on ``norm.person`` go through the sink stage (one process);
            rows/s counts every row written (events, attributes, links), events/s the input.
baseline:   the same records read by a plain confluent-kafka consumer and inserted as one column of raw
            bytes per batch into a MergeTree table: Kafka + clickhouse-driver with no conversion.
latency:    `pobi worker --stage normalize --stage fanout --stage sink` (its defaults) runs as a subprocess
            while this script publishes ``--rate`` person events per second for ``--seconds``; a prober asks
            ClickHouse every 100 ms which of them are visible in ``events``, and a consumer follows the feed of
            a subscriber that receives every person event; latency = first seen − scheduled send time.
Everything runs in its own namespace and ClickHouse database, removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from foundation.kafka import client_config
from foundation.settings import Settings, load_settings
from pobi.demo.traffic import DemoTraffic
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope
from schemas.feeds import FeedDecoder
from schemas.registry import default_registry
from sinks.clickhouse.migrate import apply_migrations
from sinks.clickhouse.stage import SinkStage
from sinks.clickhouse.writer import ClickHouseWriter
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from streams.rules.outcome import RuleViolation
from topics.admin import admin_client, group_progress, wait_for_members
from topics.contract import SubscriptionContract
from topics.dead_letters import DLQ_STAGES
from topics.producer import Publisher
from topics.schema_ids import SchemaIds
from topics.subscriptions import apply_contracts

sys.path.insert(0, str(Path(__file__).parent))
from common import remove_topics, time_stage, write_report

DATASETS = ["person", "enterprise", "licence", "approval_case", "sensor_reading"]
SOURCE = SourceRef("public-security", "hukou")


def prepare(tag: str) -> Settings:
    settings = load_settings(namespace=tag, clickhouse_database=tag)
    names = [settings.topics.named(f"{f}.{d}") for f in ("ingest", "norm") for d in DATASETS]
    names += [settings.topics.dlq(s) for s in DLQ_STAGES] + [settings.topics.named(t) for t in (
        "audit.delivery", "audit.read", "out.everyone")]
    admin = admin_client(settings)
    new = [NewTopic(n, 6, 1) for n in names] + [NewTopic(t, 1, 1) for t in (settings.topics.subscriptions,
                                                                            settings.topics.schemas)]
    for fut in admin.create_topics(new).values():
        fut.result(timeout=15)
    contract = SubscriptionContract.model_validate(EVERYONE)
    apply_contracts(settings, [contract], default_registry())
    writer = ClickHouseWriter(settings, wait=False)
    apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)
    return settings


# a subscriber that receives every person event, to time the feed
EVERYONE = {"subscriber": "everyone", "version": 1, "owner_department": "bench", "purpose": "latency",
            "legal_basis": "bench", "approver": "bench", "valid_until": "2099-12-31",
            "datasets": {"person": {"fields": ["division_code"]}}}


def remove(settings: Settings) -> None:
    remove_topics(settings, settings.namespace + ".")
    ClickHouseWriter(settings, wait=False).execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


def clean_backlog(settings: Settings, events: int) -> None:
    codec, schema = Codec(), default_registry().latest("person")
    traffic = DemoTraffic(seed=3, invalid_share=0.0)
    clock = RuleClock(DemoTraffic.now().date(), int(time.time() * 1000))
    with Publisher(settings) as publisher:
        for n in range(events):
            event = {"event_id": f"k-{n}", "dataset": "person", "op": "c", "ts_ms": clock.now_ms, "before": None,
                     "after": traffic.person(), "source": {"department": "d", "system": "s", "position": str(n)}}
            try:
                clean = normalize_event(schema, event, clock, {"topic": "t", "partition": 0, "offset": n,
                                                               "ts_ms": clock.now_ms})
            except RuleViolation:
                continue
            publisher.produce(settings.topics.norm("person"), clean["entity"]["id"].encode(),
                              codec.encode_with(codec.registry.latest("person.clean"), clean))


def sink_throughput(settings: Settings, events: int) -> dict:
    topic = settings.topics.norm("person")
    total = group_progress(settings, settings.topics.named("probe"), [topic])[topic][0]
    stage = SinkStage(settings, datasets=["person"])
    seconds = time_stage(settings, stage, total)
    return {"events": total, "rows": stage.inserted, "seconds": round(seconds, 3),
            "events_per_second": round(total / seconds), "rows_per_second": round(stage.inserted / seconds)}


def baseline(settings: Settings) -> dict:
    writer = ClickHouseWriter(settings, wait=False)
    db = settings.clickhouse_database
    writer.execute(f"CREATE TABLE IF NOT EXISTS {db}.raw (value String) ENGINE = MergeTree ORDER BY tuple()")
    consumer = Consumer(client_config(settings, **{
        "group.id": settings.topics.named("raw"), "auto.offset.reset": "earliest", "enable.partition.eof": False}))
    consumer.subscribe([settings.topics.norm("person")])
    seen, started, idle = 0, 0.0, 0
    while idle < 3:
        batch = [m for m in consumer.consume(10_000, 1.0) if m.error() is None]
        if not batch:
            idle += 1 if started else 0
            continue
        idle = 0
        started = started or time.perf_counter()
        writer.insert("raw", ["value"], [[m.value().hex() for m in batch]])
        seen += len(batch)
        last = time.perf_counter()
    consumer.close()
    seconds = last - started
    return {"events": seen, "rows": seen, "seconds": round(seconds, 3), "events_per_second": round(seen / seconds),
            "rows_per_second": round(seen / seconds)}


def latency(settings: Settings, rate: int, seconds: int, processes: int) -> dict:
    env = {**os.environ, "POBI_NAMESPACE": settings.namespace, "POBI_CLICKHOUSE_DATABASE": settings.clickhouse_database,
           "POBI_API_PORT": "0"}
    pobi = str(Path(sys.executable).with_name("pobi"))
    worker = subprocess.Popen([pobi, "worker", "--stage", "normalize", "--stage", "fanout", "--stage", "sink",
                               "--processes", str(processes)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    fed: dict[str, float] = {}
    done = threading.Event()
    writer = ClickHouseWriter(settings, wait=False)

    def follow_feed() -> None:
        ids = SchemaIds(settings)  # read once the first delivery is there: the fan-out records its id before
        decoder: FeedDecoder | None = None
        consumer = Consumer(client_config(settings, **{"group.id": settings.topics.named("feed-probe"),
                                                                        "enable.auto.commit": False}))
        topic = settings.topics.out("everyone")
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(6)])
        while not done.is_set() or len(fed) < len(sent):
            for message in consumer.consume(1000, 0.05):
                if message.error() is None:
                    if decoder is None:
                        ids.load()
                        decoder = FeedDecoder(lambda i: str(ids.schema_of(i)))
                    event_id = decoder.decode(message.value(), message.headers())["event_id"]
                    if event_id.startswith("lat-"):
                        fed.setdefault(event_id, time.perf_counter())
            if done.is_set() and time.perf_counter() - finished[0] > 60:
                break
        consumer.close()
        ids.close()

    def probe() -> None:
        while not done.is_set() or len(seen) < len(sent):
            found = writer.execute(f"SELECT event_id FROM {settings.clickhouse_database}.events "
                                   "WHERE event_id LIKE 'lat-%'")
            now = time.perf_counter()
            for (event_id,) in found:
                seen.setdefault(event_id, now)
            time.sleep(0.1)
            if done.is_set() and time.perf_counter() - finished[0] > 60:
                break

    finished = [0.0]
    memory = WorkerMemory(worker.pid)
    try:
        wait_for_members(settings, {settings.topics.group(stage): count for stage, count
                                    in (("normalize", processes), ("fanout", processes), ("sink", 1))})
        time.sleep(2)  # a moment for the members to take up their assignments
        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        feed = threading.Thread(target=follow_feed, daemon=True)
        feed.start()
        schema, traffic = default_registry().latest("person"), DemoTraffic(seed=9, invalid_share=0.0)
        with Publisher(settings) as publisher:
            start = time.perf_counter()
            warm = rate * WARM_UP_S  # the same pace first, not measured: the stages' first transactions,
            for n in range(warm + rate * seconds):  # connections and metadata are start-up, not steady load
                target = start + n / rate
                while time.perf_counter() < target:
                    time.sleep(0.0005)
                event_id = f"warm-{n}" if n < warm else f"lat-{n}"
                publisher.send_event("person", build_envelope(
                    schema, event_id=event_id, op="c", source=SOURCE, position=event_id,
                    ts_ms=int(time.time() * 1000), before=None, after=traffic.person()),
                    topic=settings.topics.ingest("person"))
                if n >= warm:
                    sent[event_id] = target  # latency from the scheduled send time, so a late send counts
        finished[0] = time.perf_counter()
        done.set()
        prober.join(90)
        feed.join(90)
    finally:
        memory.stop()
        worker.terminate()
        worker.wait(60)
    delays = sorted((seen[i] - sent[i]) * 1000 for i in sent if i in seen)
    feed_delays = sorted((fed[i] - sent[i]) * 1000 for i in sent if i in fed)
    return {"rate_per_second": rate, "seconds": seconds, "sent": len(sent), "visible": len(delays),
            **_percentiles("", delays), "in_feed": len(feed_delays), **_percentiles("feed_", feed_delays),
            "worker_max_rss_mb": memory.peak_mb}


WARM_UP_S = 3


def _percentiles(prefix: str, delays: list[float]) -> dict[str, int | None]:
    cuts = statistics.quantiles(delays, n=1000) if len(delays) > 1 else None
    return {f"{prefix}p50_ms": round(cuts[499]) if cuts else None,
            f"{prefix}p99_ms": round(cuts[989]) if cuts else None,
            f"{prefix}p999_ms": round(cuts[998]) if cuts else None}


class WorkerMemory:
    """The peak resident memory of a process and its children, sampled every second from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb = pid, 0.0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _family(self) -> list[int]:
        """The process and its descendants — children of any of its threads (the worker's stage processes are
        started from its stage threads, listed under those threads, not the main one)."""
        pids, found = [self.pid], []
        while pids:
            pid = pids.pop()
            found.append(pid)
            try:
                threads = list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                continue
            for thread in threads:
                try:
                    pids += [int(c) for c in (thread / "children").read_text().split()]
                except OSError:
                    continue
        return found

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            total = 0
            for pid in self._family():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")),
                              0)
            self.peak_mb = max(self.peak_mb, round(total / 1024, 1))

    def stop(self) -> None:
        self._stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput part")
    parser.add_argument("--processes", type=int, default=1, help="the worker's --processes")
    parser.add_argument("--json", type=Path, default=Path("bench/results/sink.json"))
    args = parser.parse_args()
    run = f"sbench{int(time.time())}"
    results = {}
    jobs = (("l", "latency"),) if args.latency_only else (("t", "throughput"), ("l", "latency"))
    for tag, job in jobs:
        settings = prepare(run + tag)
        try:
            if job == "throughput":
                clean_backlog(settings, args.events)
                results["baseline: raw bytes, one column"] = baseline(settings)
                results["pobi sink stage"] = sink_throughput(settings, args.events)
            else:
                results["publish-to-visible latency"] = latency(settings, args.rate, args.seconds, args.processes)
        finally:
            remove(settings)
    write_report(args.json, {"results": results})
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
