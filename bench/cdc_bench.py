"""Change data capture: from a database commit to the change in a subscriber's feed and in ClickHouse, at a
steady rate, on the local stack (PostgreSQL, Kafka Connect with Debezium, `pobi worker`).

    .venv/bin/python bench/cdc_bench.py [--rate 200] [--seconds 30]

A table of the bench's own (``hukou.residents_bench…``) and a source mapping it onto person are applied as a
Debezium connector in a namespace and ClickHouse database of the bench's own; `pobi worker --stage cdc --stage
normalize --stage fanout --stage sink` runs as a subprocess; this script inserts ``--rate`` residents a second
for ``--seconds``, each in its own transaction, and notes when each commit returned. A consumer follows the
feed of a subscriber that receives every person event, a prober asks ClickHouse every 100 ms which entities
are visible in ``events``.

baseline (same run): commit → the record on Debezium's topic (its Kafka timestamp), the part of the path that
is Debezium and Connect rather than pobi.
Everything is removed afterwards (connector, slot, publication, table, topics, database).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from foundation.kafka import client_config
from foundation.settings import Settings, load_settings
from pobi.sources import apply_sources, connector_name, remove_connector, wait_running
from schemas.codec import Codec
from schemas.projection import DeliveryDecoder
from schemas.registry import default_registry
from sinks.clickhouse.migrate import apply_migrations
from sinks.clickhouse.writer import ClickHouseWriter
from topics.admin import admin_client
from topics.contract import SubscriptionContract
from topics.dead_letters import DLQ_STAGES
from topics.subscriptions import apply_contracts, read_documents

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))  # the department table and source the CDC tests use
from common import machine, remove_topics, write_report
from sink_bench import EVERYONE, WorkerMemory, _percentiles

from tests.cdc_helpers import department, insert, resident, table_source

DATASETS = ["person", "enterprise", "licence", "approval_case", "sensor_reading"]


def prepare(tag: str, folder: Path) -> tuple[Settings, object, str]:
    settings = load_settings(namespace=tag, clickhouse_database=tag)
    names = [settings.topics.named(f"{f}.{d}") for f in ("ingest", "norm") for d in DATASETS]
    names += [settings.topics.dlq(s) for s in DLQ_STAGES] + [settings.topics.named(t) for t in (
        "audit.delivery", "audit.read", "out.everyone")]
    new = [NewTopic(n, 6, 1) for n in names] + [NewTopic(t, 1, 1) for t in (settings.topics.subscriptions,
                                                                            settings.topics.sources,
                                                                            settings.topics.schemas)]
    admin = admin_client(settings)  # must outlive its futures
    for fut in admin.create_topics(new).values():
        fut.result(timeout=15)
    apply_contracts(settings, [SubscriptionContract.model_validate(EVERYONE)], default_registry())
    writer = ClickHouseWriter(settings, wait=False)
    apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)
    table = f"residents_{tag}"
    source = table_source(settings, table, folder)
    apply_sources(settings, [source], remove_missing=False)
    status = wait_running(settings, source)
    if status.state != "RUNNING":
        raise SystemExit(f"the bench's connector is {status.state}: {status.error}")
    return settings, source, table


def remove(settings: Settings, source: object, table: str) -> None:
    remove_connector(settings, connector_name(settings, source.source))  # type: ignore[attr-defined]
    with department() as conn:
        conn.execute(f"DROP TABLE IF EXISTS hukou.{table}")
    remove_topics(settings, settings.namespace + ".")
    ClickHouseWriter(settings, wait=False).execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


def measure(settings: Settings, source: object, table: str, rate: int, seconds: int) -> dict:
    env = {**os.environ, "POBI_NAMESPACE": settings.namespace, "POBI_CLICKHOUSE_DATABASE": settings.clickhouse_database,
           "POBI_API_PORT": "0"}
    pobi = str(Path(sys.executable).with_name("pobi"))
    worker = subprocess.Popen([pobi, "worker", "--stage", "cdc", "--stage", "normalize", "--stage", "fanout",
                               "--stage", "sink"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    committed: dict[str, float] = {}  # id number → wall time the commit returned
    in_ch: dict[str, float] = {}
    fed: dict[str, float] = {}  # event id → wall time first seen in the feed
    done, finished = threading.Event(), [0.0]
    writer = ClickHouseWriter(settings, wait=False)

    def follow_feed() -> None:
        decoder = DeliveryDecoder(list(read_documents(settings)["everyone"]["schemas"].values()))
        consumer = Consumer(client_config(settings, **{"group.id": settings.topics.named("feed-probe"),
                                                       "enable.auto.commit": False}))
        consumer.assign([TopicPartition(settings.topics.out("everyone"), p, OFFSET_BEGINNING) for p in range(6)])
        while not done.is_set() or (len(fed) < len(committed) and time.time() - finished[0] < 60):
            for message in consumer.consume(1000, 0.1):
                if message.error() is None:
                    fed.setdefault(decoder.decode(message.value())["event_id"], time.time())
        consumer.close()

    def probe() -> None:
        while not done.is_set() or (len(in_ch) < len(committed) and time.time() - finished[0] < 60):
            found = writer.execute(f"SELECT entity_id FROM {settings.clickhouse_database}.events")
            now = time.time()
            for (entity_id,) in found:
                in_ch.setdefault(entity_id, now)
            time.sleep(0.1)

    memory = WorkerMemory(worker.pid)
    rows = [resident(n, county="350582") for n in range(rate * seconds)]
    try:
        time.sleep(8)  # the worker joins its groups
        threads = [threading.Thread(target=f, daemon=True) for f in (follow_feed, probe)]
        for thread in threads:
            thread.start()
        with department() as conn:
            start = time.perf_counter()
            for n, row in enumerate(rows):
                while time.perf_counter() < start + n / rate:
                    time.sleep(0.0005)
                insert(conn, table, [row])  # autocommit: one transaction per resident
                committed[str(row["gmsfhm"])] = time.time()
        finished[0] = time.time()
        done.set()
        for thread in threads:
            thread.join(90)
    finally:
        memory.stop()
        worker.terminate()
        worker.wait(60)
    # event id → id number, from the clean events; Debezium's records for the baseline
    codec = Codec()
    clean = _read(settings, settings.topics.norm("person"))
    id_of = {e["event_id"]: e["after"]["id_number"] for e in (codec.decode(v)[1] for _ts, v in clean)}
    debezium = _read(settings, f"{settings.topics.cdc_prefix(source.source)}.hukou.{table}")  # type: ignore[attr-defined]
    on_topic: dict[str, float] = {}
    for ts_ms, value in debezium:
        after = (json.loads(value).get("payload") or {}).get("after") or {}
        on_topic.setdefault(str(after.get("gmsfhm")), ts_ms / 1000)
    feed = sorted((fed[e] - committed[id_of[e]]) * 1000 for e in fed if id_of.get(e) in committed)
    visible = sorted((in_ch[i] - committed[i]) * 1000 for i in committed if i in in_ch)
    base = sorted((on_topic[i] - committed[i]) * 1000 for i in committed if i in on_topic)
    return {"rate_per_second": rate, "seconds": seconds, "committed": len(committed),
            "baseline_on_debezium_topic": len(base), **_percentiles("baseline_", base),
            "in_feed": len(feed), **_percentiles("feed_", feed),
            "in_clickhouse": len(visible), **_percentiles("clickhouse_", visible),
            "worker_max_rss_mb": memory.peak_mb}


def _read(settings: Settings, topic: str) -> list[tuple[int, bytes]]:
    """(Kafka timestamp ms, value) of every record on ``topic``."""
    consumer = Consumer(client_config(settings, **{"group.id": settings.topics.named("bench-read"),
                                                   "enable.auto.commit": False, "enable.partition.eof": True}))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    out, ended = [], set()
    while len(ended) < len(partitions):
        for message in consumer.consume(1000, 1.0):
            if message.error() is not None:
                ended.add(message.partition())
            elif message.value() is not None:
                out.append((message.timestamp()[1], message.value()))
    consumer.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=200, help="committed changes per second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tag = f"bench{uuid.uuid4().hex[:8]}"
    folder = load_settings().stack_path / "bench" / tag
    folder.mkdir(parents=True, exist_ok=True)
    settings, source, table = prepare(tag, folder)
    try:
        report = {"machine": machine(), "cdc": measure(settings, source, table, args.rate, args.seconds)}
    finally:
        remove(settings, source, table)
    write_report(Path(__file__).parent / "results" / "cdc.json", report)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
