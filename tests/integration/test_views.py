"""The views on the real stack: events published through pobi, normalised, fanned out and sunk show up in
every view with the right counts; publishing twice and replaying the sink leave counts unchanged; a person
published by two departments has one current record with the newest values and both sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from foundation.clock import CST
from foundation.settings import Settings
from pobi.objects import object_service
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from sinks.clickhouse.queries import VIEW_QUERIES
from sinks.clickhouse.search import name_tokens
from sinks.clickhouse.stage import SinkStage
from sinks.clickhouse.writer import ClickHouseWriter
from streams.fanout.stage import FanoutStage
from streams.runner import StageRunner
from tests.samples import SAMPLE_ROWS
from tests.secure_helpers import as_department, as_worker, settings_env
from tests.stream_helpers import running_stage, wait_for_group, whole_hub
from tests.unit.test_clickhouse_current import NAMES, backfilled_tokens
from topics.producer import Publisher

pytestmark = pytest.mark.stack
DATASETS = ["person", "enterprise", "licence", "approval_case", "sensor_reading"]
PERSON = SAMPLE_ROWS["person"]["id_number"]
POLICE, CIVIL = SourceRef("public-security", "hukou"), SourceRef("civil-affairs", "marriage-register")
T0 = int(datetime(2026, 11, 20, 9, tzinfo=CST).timestamp() * 1000)


def events() -> list[tuple[str, SourceRef, str, int, dict]]:
    now = datetime.now(CST)
    case = SAMPLE_ROWS["approval_case"] | {"applicant_id": SAMPLE_ROWS["enterprise"]["uscc"]}
    return [
        ("person", POLICE, "p-1", T0, SAMPLE_ROWS["person"] | {"phone": "13905910001"}),
        ("person", CIVIL, "p-2", T0 + 3_600_000, SAMPLE_ROWS["person"] | {"name": "陈志明", "phone": "13905910002",
                                                                           "address": "福州市鼓楼区湖东路 8 号"}),
        ("enterprise", SourceRef("market-regulation", "aic"), "e-1", T0, SAMPLE_ROWS["enterprise"]),
        ("licence", SourceRef("housing", "e-licence"), "l-1", T0, SAMPLE_ROWS["licence"]),
        *[("approval_case", SourceRef("service-hall", "wsbs"), f"c-{stage}", T0 + day * 86_400_000,
           case | {"stage": stage, "stage_time": (datetime(2026, 11, 2, 9, tzinfo=CST) + timedelta(days=day))
                   .isoformat()}) for stage, day in (("applied", 0), ("accepted", 1), ("approved", 3))],
        *[("sensor_reading", SourceRef("environment", "aqms"), f"s-{n}", T0,
           SAMPLE_ROWS["sensor_reading"] | {"value": float(20 + n), "measured_at": now.isoformat()})
          for n in range(4)],
    ]


def publish(settings: Settings) -> None:
    """Each dataset sent by the department that owns it (its own Kafka user on the secure stack)."""
    for wanted in DATASETS:
        with Publisher(as_department(settings, wanted)) as publisher:
            for dataset, source, event_id, ts, row in events():
                if dataset == wanted:
                    publisher.send_event(dataset, build_envelope(
                        default_registry().latest(dataset), event_id=event_id, op="c", source=source,
                        position=event_id, ts_ms=ts, before=None, after=row), topic=settings.topics.ingest(dataset))


def counts(writer: ClickHouseWriter, db: str) -> dict[str, int]:
    return dict(writer.execute(VIEW_QUERIES["event_counts"].replace("{db}", db)))


def stage_totals(writer: ClickHouseWriter, db: str) -> dict[str, int]:
    per_stage: dict[str, int] = {}
    for _minute, _dataset, stage, n in writer.execute(VIEW_QUERIES["throughput"].replace("{db}", db)):
        per_stage[stage] = per_stage.get(stage, 0) + n
    return per_stage


def sensor_panel_readings(writer: ClickHouseWriter, db: str) -> int:
    return sum(row[3] for row in writer.execute(VIEW_QUERIES["sensor_minutes"].replace("{db}", db)))


def test_views_object_services_and_idempotent_replays(profile_settings: Settings, unique: str,
                                                      tmp_path: Path) -> None:
    """The whole pipeline (publish → normalise → fan-out → ClickHouse → object services), on the plaintext
    stack and on the secure one, where every party connects as itself."""
    settings, writer = whole_hub(unique, tmp_path / "secrets", DATASETS, base=profile_settings)
    worker = as_worker(settings)
    db = settings.clickhouse_database
    sink = SinkStage(worker)
    sink_topics = sink.topics()
    publish(settings)
    publish(settings)  # the department sends the same batch again
    with running_stage(worker, DATASETS), \
            running_stage(worker, DATASETS, stage=FanoutStage(worker, datasets=DATASETS)), \
            running_stage(worker, DATASETS, stage=sink):
        wait_for_group(settings, "pobi-normalize", [settings.topics.ingest(d) for d in DATASETS])
        wait_for_group(settings, "pobi-fanout", [settings.topics.norm(d) for d in DATASETS])
        wait_for_group(settings, "pobi-sink", sink_topics)

    expected = {"person": 2, "enterprise": 1, "licence": 1, "approval_case": 3, "sensor_reading": 4}
    assert counts(writer, db) == expected
    service = object_service(settings)
    person = service.object("３５０１０２１９９００３０７１２３ ４")
    assert person["attributes"]["phone"]["value"] == "13905910002"  # the newest source wins
    assert person["attributes"]["phone"]["department"] == "civil-affairs"
    assert person["attributes"]["name"]["sources"] == ["civil-affairs", "public-security"]
    assert person["attributes"]["address"]["value"] == "福州市鼓楼区湖东路 8 号"
    assert {"direction": "in", "role": "legal_representative", "type": "enterprise",
            "id": SAMPLE_ROWS["enterprise"]["uscc"]} in [
        {k: r[k] for k in ("direction", "role", "type", "id")} for r in person["related"]]
    assert [e["department"] for e in service.timeline(PERSON)["events"]] == ["public-security", "civil-affairs"]
    tracked = service.tracker(PERSON)["deliveries"]
    assert {d["subscriber"] for d in tracked} == {"fuzhou-city"} and len(tracked) == 2
    assert tracked[0]["purpose"].startswith("一网通办")
    assert service.search("陈志")[0]["entity_id"] == PERSON
    assert {(f["entity_id"], f["matched"]) for f in service.search("志明")} == {
        (PERSON, "name"), (SAMPLE_ROWS["enterprise"]["uscc"], "legal_rep_name")}
    assert service.search("陈志明强") == []
    assert service.search("9135010")[0]["entity_id"] == SAMPLE_ROWS["enterprise"]["uscc"]

    per_stage = stage_totals(writer, db)
    # the second sending's sensor readings carry a new measured_at under the same event ids: conflicting
    # repeats, dead-lettered by the normaliser (the old view's WHERE read its own 'dlq' alias and never counted)
    assert per_stage == {"in": 22, "clean": 11, "dlq": 4, "delivered": 2}
    [item] = writer.execute(VIEW_QUERIES["case_timeliness"].replace("{db}", db))
    assert item[3] == 1 and abs(item[4] - 3.0) < 1e-6 and item[5] == 1.0  # 3 days: within the 5 promised
    assert writer.execute(VIEW_QUERIES["licence_status"].replace("{db}", db))[0][3:] == (1, 1, 0)
    [(readings,)] = writer.execute(f"SELECT sum(readings) FROM {db}.sensor_minutes")
    assert readings == 4 == sensor_panel_readings(writer, db)

    # the sink's batch replayed (as after a crash before its offsets were committed): nothing doubles
    replay = StageRunner(worker, SinkStage(worker), group=settings.topics.group("sink-replay"))
    stop = threading.Event()
    thread = threading.Thread(target=replay.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while replay.settled < 22 + 11 + 2:  # arrivals, clean events, delivery-log entries
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.2)
    stop.set()
    thread.join(30)
    assert counts(writer, db) == expected
    assert stage_totals(writer, db) == per_stage
    assert sensor_panel_readings(writer, db) == 4
    assert len(service.tracker(PERSON)["deliveries"]) == 2

    env = {**os.environ, **settings_env(settings)}
    cli = [sys.executable, "-c", "from pobi.cli import main; main()"]
    shown = subprocess.run([*cli, "object", "35010219900307123x".replace("x", "4"), "--json"], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0 and json.loads(shown.stdout)["attributes"]["name"]["value"] == "陈志明"
    wrong = subprocess.run([*cli, "object", "350102199003071235"], env=env, capture_output=True, text=True,
                           timeout=60, check=False)
    assert wrong.returncode == 1 and "check character should be 4" in wrong.stderr


def test_the_search_index_migration_makes_the_sink_s_tokens_on_the_test_server(live_stack: object,
                                                                               settings: Settings,
                                                                               unique: str) -> None:
    writer = ClickHouseWriter(settings, wait=False)
    database = f"pobi_backfill_{unique}"
    try:
        found = backfilled_tokens(lambda q: writer.execute(q), database)
    finally:
        writer.execute(f"DROP DATABASE IF EXISTS {database}")
    assert found == {f"P{n}": set(name_tokens(v)) for n, v in enumerate(NAMES)}
