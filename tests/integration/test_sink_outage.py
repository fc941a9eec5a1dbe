"""ClickHouse stopped for 30 s while clean events flow: the sink waits, holds its batch, and once the server
is back every event is in ``events`` — none missing, none doubled."""

from __future__ import annotations

import socket
import time
from datetime import datetime
from pathlib import Path

import pytest

from foundation.clock import CST
from pobi.stack.clickhouse import ClickHouseService
from schemas.codec import Codec
from schemas.registry import default_registry
from sinks.clickhouse.migrate import apply_migrations
from sinks.clickhouse.stage import SinkStage
from sinks.clickhouse.writer import ClickHouseWriter
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from tests.kafka_helpers import create_topics
from tests.samples import rows
from tests.stream_helpers import create_stream_topics, namespaced, running_stage, wait_for_group
from topics.producer import Publisher

pytestmark = pytest.mark.stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publish_clean(settings: object, start: int, count: int) -> None:
    codec = Codec()
    schema = default_registry().latest("sensor_reading")
    now = datetime.now(CST)
    clock = RuleClock(now.date(), int(now.timestamp() * 1000))
    with Publisher(settings) as publisher:  # type: ignore[arg-type]
        for n, row in enumerate(rows("sensor_reading", count), start):
            event = {"event_id": f"o-{n}", "dataset": "sensor_reading", "op": "c", "ts_ms": clock.now_ms,
                     "source": {"department": "env", "system": "aqms", "position": str(n)}, "before": None,
                     "after": row | {"sensor_id": f"S-{n}", "measured_at": now.isoformat()}}
            clean = normalize_event(schema, event, clock, {"topic": "t", "partition": 0, "offset": n,
                                                           "ts_ms": clock.now_ms})
            publisher.produce(settings.topics.norm("sensor_reading"), clean["entity"]["id"].encode(),  # type: ignore[attr-defined]
                              codec.encode_with(codec.registry.latest("sensor_reading.clean"), clean))


def test_clickhouse_down_for_30_seconds_loses_nothing(live_stack: object, unique: str, tmp_path: Path) -> None:
    settings = namespaced(unique, clickhouse_port=free_port(), clickhouse_http_port=free_port(),
                          clickhouse_database=f"t{unique}", stack_dir=tmp_path / "stack")
    server = ClickHouseService(settings)  # a private server, so stopping it disturbs no other test
    server.start()
    try:
        create_stream_topics(settings, ["sensor_reading"])
        create_topics(settings, settings.topics.audit_delivery)
        writer = ClickHouseWriter(settings, wait=False)
        apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)
        stage = SinkStage(settings, datasets=["sensor_reading"])
        with running_stage(settings, ["sensor_reading"], stage=stage):
            publish_clean(settings, 0, 1000)
            wait_for_group(settings, "pobi-sink", [settings.topics.norm("sensor_reading")])
            server.stop()
            publish_clean(settings, 1000, 1000)
            time.sleep(30)
            assert stage.writer.waited_s > 20, "the sink did not wait for ClickHouse"
            server.start()
            publish_clean(settings, 2000, 1000)
            wait_for_group(settings, "pobi-sink", [settings.topics.norm("sensor_reading")], timeout_s=90)
        [(total, distinct)] = ClickHouseWriter(settings, wait=False).execute(
            f"SELECT count(), uniqExact(event_id) FROM {settings.clickhouse_database}.events FINAL")
        assert (total, distinct) == (3000, 3000)
    finally:
        server.stop()
