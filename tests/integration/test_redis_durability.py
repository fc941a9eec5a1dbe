"""Redis that lost pobi's state is noticed before a record is handled: restarted empty, rolled back, or not
persisting. `pobi ledger rebuild` restores dedup memory, ledger and case histories from Kafka, after which
repeats are still recognised and the ledger balances."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest

from foundation.connect import redis_client
from foundation.errors import PobiError
from foundation.settings import Settings
from pobi.stack.redis import RedisService
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from streams.durability import StateLost
from streams.normalize.stage import NormalizeStage
from streams.rebuild import rebuild_state
from tests.samples import SAMPLE_ROWS, rows
from tests.stream_helpers import create_stream_topics, namespaced, running_stage, wait_until_idle
from topics.producer import Publisher

pytestmark = pytest.mark.stack
DATASETS = ["sensor_reading", "approval_case"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publish(settings: Settings, first: int, count: int) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600))
    readings = rows("sensor_reading", first + count)
    with Publisher(settings) as publisher:
        for n in range(first, first + count):
            publisher.send_event("sensor_reading", build_envelope(
                default_registry().latest("sensor_reading"), event_id=f"r-{n}", op="c",
                source=SourceRef("environment", "aqms"), position=str(n), ts_ms=int(time.time() * 1000),
                before=None, after=readings[n] | {"measured_at": now}), topic=settings.topics.ingest("sensor_reading"))


def publish_case(settings: Settings, stage: str, when: str) -> None:
    with Publisher(settings) as publisher:
        publisher.send_event("approval_case", build_envelope(
            default_registry().latest("approval_case"), event_id=f"c-{stage}", op="u",
            source=SourceRef("service-hall", "wsbs"), position=stage, ts_ms=int(time.time() * 1000), before=None,
            after=SAMPLE_ROWS["approval_case"] | {"stage": stage, "stage_time": when}),
            topic=settings.topics.ingest("approval_case"))


def test_lost_redis_state_is_noticed_and_rebuilt_from_kafka(live_stack: object, unique: str,
                                                           tmp_path: Path) -> None:
    settings = namespaced(unique, redis_port=free_port(), stack_dir=tmp_path / "stack")
    server = RedisService(settings)
    server.start()
    try:
        create_stream_topics(settings, DATASETS)
        publish(settings, 0, 500)
        publish_case(settings, "applied", "2026-11-02T09:00:00+08:00")
        with running_stage(settings, DATASETS):
            wait_until_idle(settings, DATASETS)
            with pytest.raises(PobiError, match="are running"):
                rebuild_state(settings, DATASETS)

        server.stop()  # Redis comes back without its file
        shutil.rmtree(server.home)
        server.home.mkdir(parents=True)
        server.start()
        with pytest.raises(StateLost, match="restarted empty"):
            NormalizeStage(settings, datasets=DATASETS).setup()

        rebuilt = {r.dataset: r for r in rebuild_state(settings, DATASETS)}
        assert (rebuilt["sensor_reading"].counted_in, rebuilt["sensor_reading"].clean) == (500, 500)
        publish(settings, 400, 200)  # 100 repeats of events from before the loss, 100 new
        publish_case(settings, "approved", "2026-11-03T09:00:00+08:00")
        with running_stage(settings, DATASETS):
            ledger = wait_until_idle(settings, DATASETS)
        assert ledger["sensor_reading"].counts | {"redelivered": 0} == {
            "in": 700, "clean": 600, "duplicate": 100, "dlq": 0, "redelivered": 0}
        assert all(row.status == "balanced" for row in ledger.values())
        history = redis_client(settings).hgetall(settings.redis_key("case", SAMPLE_ROWS["approval_case"]["case_id"]))
        assert set(history) == {b"applied", b"approved"}  # the case remembered its application

        client = redis_client(settings)
        client.hincrby(f"{settings.redis_key('ledger')}:normalize:sensor_reading", "in", -3)  # the last writes lost
        with pytest.raises(StateLost, match="rolled back"):
            NormalizeStage(settings, datasets=DATASETS).setup()
        client.hincrby(f"{settings.redis_key('ledger')}:normalize:sensor_reading", "in", 3)

        client.config_set("appendonly", "no")
        with pytest.raises(StateLost, match="does not keep pobi's state on disk"):
            NormalizeStage(settings, datasets=DATASETS).setup()
    finally:
        server.stop()
