"""Metrics, dashboards and alerts against the real services: a real worker (two stage processes, so the
metrics are summed across processes) scraped by the real Prometheus; every Operations panel's PromQL returns
series; every Business panel's SQL runs on the real ClickHouse; promtool accepts the alert rules."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from foundation.settings import Settings
from monitoring.dashboards import DASHBOARD_DIR, DATABASE_VARIABLE, OPERATIONS_PANELS, dashboards
from monitoring.prometheus_config import ALERT_RULES
from pobi.demo.traffic import DemoTraffic
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from sinks.clickhouse.stage import SinkStage
from tests.stream_helpers import wait_for_group, wait_until_idle, whole_hub
from topics.producer import Publisher

pytestmark = pytest.mark.stack
DATASETS = ["person", "enterprise", "licence", "approval_case", "sensor_reading"]


def test_the_dashboard_files_are_the_generated_ones() -> None:
    for name, board in dashboards().items():
        assert json.loads((DASHBOARD_DIR / name).read_text(encoding="utf-8")) == board, \
            f"{name} is stale: python -m monitoring.dashboards"


def test_promtool_accepts_the_alert_rules(live_stack: object) -> None:
    result = subprocess.run(["promtool", "check", "rules", str(ALERT_RULES)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and "SUCCESS: 7 rules found" in result.stdout, result.stdout + result.stderr


def prometheus(settings: Settings, expr: str) -> list[dict]:
    url = f"http://127.0.0.1:{settings.prometheus_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def publish_traffic(settings: Settings) -> int:
    traffic, sent = DemoTraffic(seed=21, invalid_share=0.05), 0
    with Publisher(settings) as publisher:
        for n, (dataset, row) in enumerate(traffic.batch(people=120, enterprises=30, licences=20, cases=10,
                                                         start=traffic.now())):
            publisher.send_event(dataset, build_envelope(
                default_registry().latest(dataset), event_id=f"m-{n}", op="c", source=SourceRef("dept", "sys"),
                position=str(n), ts_ms=int(time.time() * 1000), before=None, after=row),
                topic=settings.topics.ingest(dataset))
            sent += 1
    return sent


def test_every_panel_query_returns_data_from_a_real_worker(live_stack: object, unique: str, tmp_path: Path) -> None:
    settings, writer = whole_hub(unique, tmp_path / "secrets", DATASETS)
    sent = publish_traffic(settings)

    env = {**os.environ, "POBI_NAMESPACE": settings.namespace, "POBI_CLICKHOUSE_DATABASE": settings.clickhouse_database,
           "POBI_SECRETS_DIR": str(settings.secrets_dir), "POBI_API_PORT": "0",
           "POBI_STACK_DIR": str(tmp_path / "stack")}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([str(Path(sys.executable).with_name("pobi")), "worker", "--stage", "normalize",
                               "--stage", "fanout", "--stage", "sink", "--processes", "2"], env=env,
                              stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_idle(settings, DATASETS, timeout_s=120)
        wait_for_group(settings, "pobi-fanout", [settings.topics.norm(d) for d in DATASETS], 60)
        wait_for_group(settings, "pobi-sink", SinkStage.topics_for(settings), 60)
        counted = 'sum(pobi_events_total{stage="normalize", outcome="in"})'
        deadline = time.monotonic() + 60
        while not (result := prometheus(settings, counted)) or float(result[0]["value"][1]) < sent:
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"Prometheus saw {result} of {sent} events"
            time.sleep(1)
        assert float(result[0]["value"][1]) == sent  # summed over the worker's two processes
        time.sleep(12)  # two more scrapes, so every rate() has two samples with the data
        empty = [title for title, exprs, _unit in OPERATIONS_PANELS for expr in exprs
                 if "pobi_gateway_" not in expr and not prometheus(settings, expr)]  # no gateway runs here
        assert not empty, f"panels without series: {empty}"
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(60)

    db = settings.clickhouse_database
    # each panel's SQL as Grafana sends it, with the dashboard's database variable set to this namespace's
    board = dashboards()["pobi-business.json"]
    assert board["templating"]["list"][0]["current"]["value"] == "pobi"
    for panel in board["panels"]:
        sql = panel["targets"][0]["rawSql"]
        assert "pobi." not in sql and DATABASE_VARIABLE in sql
        rows = writer.execute(sql.replace(DATABASE_VARIABLE, settings.clickhouse_database))
        assert rows, f"the business panel {panel['title']!r} has no rows"
    offered = writer.execute(board["templating"]["list"][0]["query"].replace("= 'pobi'", f"= '{db}'"))
    assert (db,) in offered and all(name == db or name.startswith("pobi_") for name, in offered)
