"""`topics apply` creates what is missing and reports drift without touching existing topics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import NewTopic

from foundation.settings import Settings
from pobi.stack.manager import Stack
from topics.admin import admin_client, apply_catalogue, compare_catalogue
from topics.catalogue import Catalogue, TopicSpec

pytestmark = pytest.mark.stack


def _catalogue(unique: str) -> Catalogue:
    return Catalogue({"person": "public-security"}, [
        TopicSpec(f"t.{unique}.ingest.person", 4, 1, owner="public-security"),
        TopicSpec(f"t.{unique}.norm.person", 4, 1),
        TopicSpec(f"t.{unique}.subscriptions", 1, 1, cleanup="compact", retention_hours=-1),
    ])


def test_apply_creates_missing_topics_then_is_a_no_op(live_stack: Stack, settings: Settings,
                                                        unique: str) -> None:
    admin = admin_client(settings)
    catalogue = _catalogue(unique)
    first = apply_catalogue(admin, catalogue)
    assert sorted(first.created) == sorted(t.name for t in catalogue.topics)
    assert not first.drifted
    second = apply_catalogue(admin, catalogue)
    assert second.created == [] and not second.drifted
    compacted = {s.name: s for s in second.states}[f"t.{unique}.subscriptions"]
    assert compacted.state == "ok"


def test_wrong_partition_count_and_config_are_reported_not_changed(live_stack: Stack, settings: Settings,
                                                                    unique: str) -> None:
    admin = admin_client(settings)
    catalogue = _catalogue(unique)
    wrong = f"t.{unique}.ingest.person"
    admin.create_topics([NewTopic(wrong, 2, 1, config={"retention.ms": "1000"})])[wrong].result(timeout=15)

    report = apply_catalogue(admin, catalogue)
    assert wrong not in report.created
    drifted = {s.name: s for s in report.drifted}
    assert set(drifted) == {wrong}
    assert "has 2 partitions, the catalogue says 4" in drifted[wrong].drift
    assert "retention.ms is 1000, the catalogue says 604800000" in drifted[wrong].drift
    # nothing was altered: the topic still has its 2 partitions and its own retention
    again = {s.name: s for s in compare_catalogue(admin, catalogue)}[wrong]
    assert again.partitions_found == 2 and again.state == "drift"


def test_cli_reports_drift_and_exits_3(live_stack: Stack, settings: Settings, unique: str,
                                       tmp_path: Path) -> None:
    dataset = f"t{unique}"
    (tmp_path / "catalogue.yaml").write_text(f"""
datasets:
  {dataset}: {{owner: public-security, partitions: 2}}
families:
  ingest: {{retention_hours: 168, cleanup: delete}}
dlq: {{stages: [], partitions: 1, retention_hours: 720}}
subscriber_feeds: {{partitions: 1, retention_hours: 168}}
""")
    admin = admin_client(settings)
    admin.create_topics([NewTopic(f"ingest.{dataset}", 1, 1)])[f"ingest.{dataset}"].result(timeout=15)
    run = subprocess.run([sys.executable, "-c", "from pobi.cli import main; main()", "topics", "apply",
                          "--catalogue", str(tmp_path / "catalogue.yaml")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 3, run.stderr
    assert f"drift ingest.{dataset}: has 1 partitions, the catalogue says 2" in run.stdout
