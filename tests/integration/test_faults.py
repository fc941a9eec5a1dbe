"""The fault harness's short run (`python bench/faults.py --short`): a three-broker cluster of its own, two
`pobi worker` processes, 6,000 person changes at 400/s, and two faults — the broker leading ``norm.person/0``
SIGKILLed, and a worker SIGSTOPped past its session timeout and then resumed (a zombie). Every acknowledged
event must end on ``norm.person`` or in ``dlq.normalize``, every clean one in ClickHouse and in the
subscriber's feed; the zombie's late batch must not land (no repeat on ``norm.person``, no resident whose last
record is not their newest). The full run and its figures are in the README."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack
HARNESS = Path(__file__).resolve().parents[2] / "bench" / "faults.py"


def test_a_broker_killed_and_a_zombie_worker_lose_nothing_and_write_nothing_twice(
        tmp_path: Path) -> None:
    report_path = tmp_path / "faults.json"
    run = subprocess.run([sys.executable, str(HARNESS), "--short", "--json", str(report_path),
                          "--state", str(tmp_path / "faults")], capture_output=True, text=True, timeout=1200,
                         check=False)
    assert report_path.exists(), run.stderr[-3000:]
    report = json.loads(report_path.read_text())
    runs = {r["fault"]: r for r in report["runs"]}
    assert set(runs) == {"broker-kill", "worker-pause"}
    for name, result in runs.items():
        assert result["drained"], f"{name}: the stages did not catch up"
        assert result["acknowledged"] == result["sent"] == 6000, name
        assert result["clean"] + result["dead_letters"] == 6000, f"{name}: {result}"
        assert result["dead_letters"] > 0, "the spoiled ID numbers must reach the DLQ"
        assert (result["lost"], result["lost_in_clickhouse"], result["lost_in_feed"]) == (0, 0, 0), f"{name}: {result}"
        assert result["in_both_norm_and_dlq"] == 0
        assert result["duplicates_clickhouse_final"] == 0, f"{name}: duplicates left after ClickHouse's dedup"
    zombie = runs["worker-pause"]
    assert (zombie["duplicates_norm"], zombie["late_norm"], zombie["stale_keys_norm"]) == (0, 0, 0), zombie
    assert zombie["stale_keys_feed"] == 0, zombie
    assert run.returncode == 0, run.stderr[-3000:]
