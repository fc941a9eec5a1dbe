"""Dead letters replayed after a rule fix come out clean; replaying again adds nothing."""

from __future__ import annotations

import time

import pytest

from pobi.dlq import read_dead_letters, replay
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from streams.rules import sensor
from tests.kafka_helpers import read_all
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import create_stream_topics, namespaced, running_stage, wait_until_idle
from topics.producer import Publisher

pytestmark = pytest.mark.stack
DATASETS = ["sensor_reading"]


def reading(n: int, unit: str) -> dict:
    now = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600))
    return SAMPLE_ROWS["sensor_reading"] | {"sensor_id": f"FZ-NO2-{n:03d}", "metric": "no2", "value": 40.0 + n,
                                            "unit": unit, "measured_at": now}


def test_replay_after_a_rule_fix_then_again(live_stack: object, unique: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    settings = namespaced(unique)
    create_stream_topics(settings, DATASETS)
    schema = default_registry().latest("sensor_reading")
    with Publisher(settings) as publisher:  # a station starts sending NO2 in ppb, which pobi does not know yet
        for n in range(20):
            row = reading(n, "ppb" if n < 8 else "μg/m³")
            publisher.send_event("sensor_reading", build_envelope(
                schema, event_id=f"no2-{n}", op="c", source=SourceRef("environment", "aqms"), position=str(n),
                ts_ms=int(time.time() * 1000), before=None, after=row), topic=settings.topics.ingest("sensor_reading"))

    with running_stage(settings, DATASETS):
        first = wait_until_idle(settings, DATASETS)["sensor_reading"]
        assert (first.counts["clean"], first.counts["dlq"]) == (12, 8)
        assert first.dlq_reasons == {"sensor.unit_unknown": 8}

        # the rule is fixed: NO2 in ppb converts at 1.88 μg/m³ per ppb (25 ℃, 1 atm)
        monkeypatch.setitem(sensor.METRICS["no2"].conversions, "ppb", lambda v: v * 1.88)
        letters = list(read_dead_letters(settings, "normalize", reason="sensor"))
        assert len(letters) == 8
        assert replay(settings, letters).replayed == 8
        second = wait_until_idle(settings, DATASETS)["sensor_reading"]
        assert (second.counts["in"], second.counts["clean"], second.counts["duplicate"]) == (28, 20, 0)

        assert replay(settings, letters).replayed == 8  # by mistake, the same dead letters again
        third = wait_until_idle(settings, DATASETS)["sensor_reading"]
        assert (third.counts["in"], third.counts["clean"], third.counts["duplicate"]) == (36, 20, 8)
        assert third.status == "balanced"

    clean = [Codec().decode(m.value())[1] for m in read_all(settings, settings.topics.norm("sensor_reading"))]
    assert len(clean) == 20 and len({e["event_id"] for e in clean}) == 20
    converted = next(e for e in clean if e["event_id"] == "no2-3")
    assert converted["after"]["value"] == pytest.approx(43.0 * 1.88)
    assert converted["after"]["unit"] == "μg/m³"
    assert [f["code"] for f in converted["quality_flags"]] == ["sensor.unit_converted"]
