"""`pobi views rebuild` under steady traffic: while departments publish and the worker's stages normalise and
sink, the derived tables are rebuilt (twice) and swapped; afterwards no event is missing, none is counted twice,
and each derived table holds exactly what its base table implies."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from foundation.settings import Settings
from pobi.demo.traffic import DemoTraffic
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from sinks.clickhouse.queries import VIEW_QUERIES
from sinks.clickhouse.rebuild import DERIVED
from sinks.clickhouse.search import name_tokens
from sinks.clickhouse.stage import SinkStage
from tests.secure_helpers import settings_env
from tests.stream_helpers import running_stage, wait_for_group, whole_hub
from topics.producer import Publisher

pytestmark = pytest.mark.stack
DATASETS = ["person", "enterprise"]
BULK = 400_000


def steady_traffic(settings: Settings, stop: threading.Event) -> int:
    """People and enterprises (with their legal representatives) at about 300 events/s until ``stop``."""
    traffic, sent = DemoTraffic(seed=33, dirty_share=0.0, invalid_share=0.0), 0
    with Publisher(settings) as publisher:
        while not stop.is_set() and sent < 30_000:
            dataset = "enterprise" if sent % 3 == 2 else "person"
            row = traffic.enterprise() if dataset == "enterprise" else traffic.person()
            publisher.send_event(dataset, build_envelope(
                default_registry().latest(dataset), event_id=f"r-{sent}", op="c", source=SourceRef("dept", "sys"),
                position=str(sent), ts_ms=int(time.time() * 1000), before=None, after=row),
                topic=settings.topics.ingest(dataset))
            sent += 1
            if sent % 30 == 0:
                publisher.flush()
                time.sleep(0.1)
    return sent


def test_a_rebuild_under_traffic_loses_nothing_and_counts_nothing_twice(live_stack: object, unique: str,
                                                                       tmp_path: Path) -> None:
    settings, writer = whole_hub(unique, tmp_path / "secrets", DATASETS)
    db = settings.clickhouse_database
    env = {**os.environ, **settings_env(settings)}
    # rows written before (as by an older version): the shadow takes seconds to fill, so the sink writes a few
    # batches between the rebuild's mark and its swap, which only the catch-up step derives into the new table
    writer.execute(f"INSERT INTO {db}.attributes SELECT 'person', concat('B', toString(number)), 'name', "
                   f"concat('陈', toString(number % 997), '号'), 'bulk', 'bulk', toUInt64(1), 'bulk' "
                   f"FROM numbers({BULK})")
    writer.execute(f"INSERT INTO {db}.links SELECT 'enterprise', concat('E', toString(number)), "
                   f"'legal_representative', 'person', concat('B', toString(number)), 'bulk', toUInt64(1), 'bulk' "
                   f"FROM numbers({BULK})")
    writer.execute(f"INSERT INTO {db}.readings SELECT concat('S', toString(number % 500)), '', '', 'pm25', "
                   f"toFloat64(number % 150), 'μg/m³', toUInt64(now() - number % 7200) * 1000, "
                   f"now() - number % 7200, concat('bulk-', toString(number)), [] FROM numbers({BULK})")
    sink = SinkStage(settings, datasets=DATASETS)
    stop, sent = threading.Event(), []
    with running_stage(settings, DATASETS), running_stage(settings, DATASETS, stage=sink, batch_size=200):
        publishing = threading.Thread(target=lambda: sent.append(steady_traffic(settings, stop)))
        publishing.start()
        time.sleep(3)  # the tables have rows before the first rebuild
        try:
            for _ in range(2):
                rebuilt = subprocess.run([str(Path(sys.executable).with_name("pobi")), "views", "rebuild"], env=env,
                                         capture_output=True, text=True, timeout=300, check=False)
                assert rebuilt.returncode == 0, rebuilt.stderr
                assert rebuilt.stdout.count("swapped in") == len(DERIVED), rebuilt.stdout
            time.sleep(1)  # traffic after the last swap too
        finally:
            stop.set()
            publishing.join(120)
        wait_for_group(settings, "pobi-normalize", [settings.topics.ingest(d) for d in DATASETS], 120)
        wait_for_group(settings, "pobi-sink", sink.topics(), 120)

    [total] = sent
    assert dict(writer.execute(VIEW_QUERIES["event_counts"].replace("{db}", db))) == {
        "enterprise": total // 3, "person": total - total // 3}
    [(events,)] = writer.execute(f"SELECT uniqExact(event_id) FROM {db}.events")
    assert events == total
    for table, derived in DERIVED.items():  # the live table holds exactly the rows its base implies
        implied = derived.select.format(source=f"{db}.{derived.base}")
        [(wanted,)] = writer.execute(f"SELECT count() FROM (SELECT DISTINCT * FROM ({implied}))")
        [(held,)] = writer.execute(f"SELECT count() FROM (SELECT DISTINCT * FROM {db}.{table})")
        [(both,)] = writer.execute(f"SELECT count() FROM (SELECT DISTINCT * FROM ({implied} UNION ALL "
                                   f"SELECT * FROM {db}.{table}))")
        assert wanted == held == both >= BULK, (table, wanted, held, both)
    names = writer.execute(f"SELECT DISTINCT entity_type, entity_id, attribute, value FROM {db}.attributes "
                           "WHERE attribute IN ('name', 'legal_rep_name') AND department != 'bulk'")
    expected = {(token, *name) for name in names for token in name_tokens(name[3])}
    found = set(writer.execute(f"SELECT DISTINCT token, entity_type, entity_id, attribute, value "
                               f"FROM {db}.search_tokens WHERE NOT startsWith(entity_id, 'B')"))
    assert len(names) > total // 3 and found == expected  # the sink's tokens and the rebuild's agree
    assert not writer.execute(f"SELECT name FROM system.tables WHERE database = '{db}' AND "
                              "(endsWith(name, '__shadow') OR endsWith(name, '__old'))")
