"""The sink with a ClickHouse double that refuses what it cannot store: a refused insert is split until the
refusing record stands alone, that record goes to dlq.sink, the others are written — and the sink never
sends its own dead letters round again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from foundation.settings import load_settings
from schemas.codec import Codec
from sinks.clickhouse.stage import SinkStage
from tests.doubles import FakeMessage, FakePublisher, FakeWriter
from tests.samples import SAMPLE_ROWS
from topics.dead_letters import DeadLetter

CODEC = Codec()
NOW = int(time.time() * 1000)


def reading(n: int, sensor: str | None = None, **changes: Any) -> FakeMessage:
    event = {
        "event_id": f"r-{n}", "dataset": "sensor_reading", "op": "c",
        "source": {"department": "environment", "system": "aqms", "position": str(n)}, "ts_ms": NOW,
        "before": None, "after": SAMPLE_ROWS["sensor_reading"] | {"sensor_id": sensor or f"S-{n}"},
        "ingest": {"topic": "ingest.sensor_reading", "partition": 0, "offset": n, "ts_ms": NOW},
        "normalized_ts_ms": NOW, "entity": {"type": "sensor", "id": sensor or f"S-{n}"}, "related": [],
        "quality_flags": [], "enrichment": {"measured_at.epoch_ms": str(NOW)}} | changes
    return FakeMessage("norm.sensor_reading", 0, n, CODEC.encode("sensor_reading.clean", event))


def sink(tmp_path: Path, writer: FakeWriter, publisher: FakePublisher) -> SinkStage:
    stage = SinkStage(load_settings(stack_dir=tmp_path), datasets=["sensor_reading"], writer=writer,  # type: ignore[arg-type]
                      publisher=publisher)  # type: ignore[arg-type]
    stage.setup()
    return stage


def test_a_refused_insert_is_split_until_the_refusing_record_is_alone(tmp_path: Path) -> None:
    writer, publisher = FakeWriter(refuse="S-BAD"), FakePublisher()
    batch = [reading(n) for n in range(7)] + [reading(7, sensor="S-BAD")]
    sink(tmp_path, writer, publisher).handle(batch).result()
    written = {row for inserts in writer.inserted["readings"] for row in inserts[0]}  # the sensor_id column
    assert written == {f"S-{n}" for n in range(7)}
    [(topic, letter)] = publisher.letters
    assert (topic, letter.reason, letter.source_offset) == ("dlq.sink", "sink.insert_refused", 7)
    assert "Type mismatch" in letter.message and publisher.flushed_at


def test_a_record_whose_rows_cannot_be_built_goes_to_the_dlq(tmp_path: Path) -> None:
    writer, publisher = FakeWriter(), FakePublisher()
    batch = [reading(0), reading(1, ts_ms=2**62), FakeMessage("norm.sensor_reading", 0, 2, b"not avro"), reading(3)]
    sink(tmp_path, writer, publisher).handle(batch).result()
    assert sorted((letter.source_offset, letter.reason) for _t, letter in publisher.letters) == [
        (1, "sink.row_invalid"), (2, "decode.not_avro")]
    assert sum(len(inserts[0]) for inserts in writer.inserted["events"]) == 2


def test_the_sink_does_not_send_its_own_dead_letters_round_again(tmp_path: Path) -> None:
    writer, publisher = FakeWriter(refuse="dlq.sink"), FakePublisher()
    own = DeadLetter("sink", "sink.insert_refused", "earlier", b"x", source_topic="norm.sensor_reading",
                     source_partition=0, source_offset=1).record()
    sink(tmp_path, writer, publisher).handle([FakeMessage("dlq.sink", 0, 5, CODEC.encode("dead_letter", own))]).result()
    assert publisher.letters == []
