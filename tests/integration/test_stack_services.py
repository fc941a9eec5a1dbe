"""The local stack's four services are real servers that answer real requests."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import NewTopic
from prometheus_client import CollectorRegistry, Counter, start_http_server

from foundation.connect import clickhouse_client, redis_client
from foundation.settings import Settings
from pobi.stack.manager import Stack
from topics.admin import admin_client

pytestmark = pytest.mark.stack


def test_kafka_round_trips_a_record(live_stack: Stack, settings: Settings, unique: str) -> None:
    topic = f"test.roundtrip.{unique}"
    admin = admin_client(settings)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=15)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    producer.produce(topic, key=b"350102199003071234", value="公民身份号码".encode())
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"test-{unique}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    deadline = time.monotonic() + 20
    msg = None
    while msg is None and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
    consumer.close()
    assert msg is not None and msg.error() is None
    assert (msg.key(), msg.value().decode()) == (b"350102199003071234", "公民身份号码")


def test_clickhouse_creates_a_table_and_reads_it_back(live_stack: Stack, settings: Settings,
                                                      unique: str) -> None:
    client = clickhouse_client(settings)
    table = f"default.t_{unique}"
    client.execute(f"CREATE TABLE {table} (id String, n UInt32) ENGINE = MergeTree ORDER BY id")
    client.execute(f"INSERT INTO {table} (id, n) VALUES", [("a", 1), ("b", 2)])
    assert client.execute(f"SELECT sum(n), count() FROM {table}") == [(3, 2)]
    client.execute(f"DROP TABLE {table}")


def test_redis_answers_ping_and_keeps_a_key(live_stack: Stack, settings: Settings, unique: str) -> None:
    r = redis_client(settings)
    assert r.ping() is True
    r.set(f"test:{unique}", "1", ex=60)
    assert r.get(f"test:{unique}") == b"1"


def test_prometheus_scrapes_pobis_metrics_port(live_stack: Stack, settings: Settings, unique: str) -> None:
    registry = CollectorRegistry()
    Counter("pobi_test_probe", "a probe counter for this test", ["run"], registry=registry).labels(unique).inc(7)
    server, thread = start_http_server(settings.metrics_port, addr="127.0.0.1", registry=registry)
    try:
        query = f'pobi_test_probe_total{{run="{unique}"}}'
        url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/query?query={urllib.request.quote(query)}"
        deadline, result = time.monotonic() + 30, []
        while not result and time.monotonic() < deadline:
            with urllib.request.urlopen(url, timeout=5) as resp:
                result = json.load(resp)["data"]["result"]
            if not result:
                time.sleep(1)
        assert result, "Prometheus never scraped the metrics port"
        assert float(result[0]["value"][1]) == 7.0
    finally:
        server.shutdown()
        thread.join(5)


def test_an_expensive_query_fails_in_one_line_and_clickhouse_stays_up(live_stack: object, settings: Settings) -> None:
    """The local stack limits a query's memory, so a query too big for the machine is refused by ClickHouse
    (one line from pobi) rather than the kernel killing the server."""
    from foundation.errors import StoreError
    from sinks.clickhouse.writer import ClickHouseWriter

    writer = ClickHouseWriter(settings, wait=False)
    with pytest.raises(StoreError) as err:
        writer.execute("SELECT groupArray(number) FROM system.numbers LIMIT 2000000000")
    message = str(err.value)
    assert "Memory limit" in message and "\n" not in message and "Stack trace" not in message
    assert writer.execute("SELECT 1") == [(1,)]
