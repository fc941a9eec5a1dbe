"""Redis stopped while events flow: the stage waits, passes nothing undeduplicated and drops nothing, and
goes on by itself when Redis is back."""

from __future__ import annotations

import socket
import time
from collections import Counter
from pathlib import Path

import pytest

from foundation.settings import Settings
from pobi.stack.redis import RedisService
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from tests.kafka_helpers import read_all
from tests.samples import rows
from tests.stream_helpers import create_stream_topics, namespaced, running_stage, wait_until_idle
from topics.producer import Publisher

pytestmark = pytest.mark.stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publish(settings: Settings, events: dict[str, dict]) -> None:
    schema = default_registry().latest("sensor_reading")
    with Publisher(settings) as publisher:
        for event_id, row in events.items():
            publisher.send_event("sensor_reading", build_envelope(
                schema, event_id=event_id, op="c", source=SourceRef("environment", "aqms"), position=event_id,
                ts_ms=int(time.time() * 1000), before=None, after=row), topic=settings.topics.ingest("sensor_reading"))


def test_a_redis_outage_pauses_the_stage_and_loses_nothing(live_stack: object, unique: str, tmp_path: Path) -> None:
    settings = namespaced(unique, redis_port=free_port(), stack_dir=tmp_path / "stack")
    redis_server = RedisService(settings)  # a private Redis, so stopping it disturbs no other test
    redis_server.start()
    create_stream_topics(settings, ["sensor_reading"])
    now = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600))
    readings = [r | {"measured_at": now} for r in rows("sensor_reading", 3000)]
    first = {f"r-{n}": readings[n] for n in range(1000)}
    second = {f"r-{n}": readings[n] for n in range(1000, 3000)}
    repeats = {event_id: first[event_id] for event_id in list(first)[:300]}
    norm = settings.topics.norm("sensor_reading")
    try:
        with running_stage(settings, ["sensor_reading"]):
            publish(settings, first)
            wait_until_idle(settings, ["sensor_reading"])

            redis_server.stop()
            publish(settings, second | repeats)
            time.sleep(8)
            # records read, not offsets: the stage's transactions leave a marker per partition and batch
            during = {t: len(read_all(settings, t)) for t in (norm, settings.topics.dlq("normalize"))}
            assert during == {norm: 1000, settings.topics.dlq("normalize"): 0}, "events passed without Redis"

            redis_server.start()
            ledger = wait_until_idle(settings, ["sensor_reading"])["sensor_reading"]
    finally:
        redis_server.stop()

    ids = Counter(Codec().decode(m.value())[1]["event_id"] for m in read_all(settings, norm))
    assert set(ids) == set(first) | set(second)
    assert max(ids.values()) == 1, "a repeat passed undeduplicated"
    assert (ledger.counts["in"], ledger.counts["clean"], ledger.counts["duplicate"]) == (3300, 3000, 300)
    assert ledger.status == "balanced"
