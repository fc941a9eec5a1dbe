"""Change data capture on the real stack: rows inserted, updated and deleted in a department's PostgreSQL
table reach pobi through Debezium on Kafka Connect and the worker's CDC stage — each one clean on
norm.person or a dead letter with its reason, the 360° view showing the update with its commit time and the
timeline the delete."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from pobi.objects import object_service
from schemas.codec import Codec
from sinks.clickhouse.stage import SinkStage
from streams.cdc.stage import CdcStage
from tests.cdc_helpers import cdc_source, department, insert, resident
from tests.kafka_helpers import create_topics, read_all
from tests.stream_helpers import running_stage, whole_hub

pytestmark = pytest.mark.stack
CLEAN, FIXABLE, INVALID = 150, 30, 20


def _residents() -> list[dict[str, object]]:
    rows = [resident(n) for n in range(CLEAN + FIXABLE + INVALID)]
    for row in rows[CLEAN:CLEAN + FIXABLE]:  # what a register really holds: a lower-case x, padded names
        row["gmsfhm"] = str(row["gmsfhm"]).lower().replace("x", "x")
        row["xm"] = f"  {row['xm']} "
        row["lxdh"] = f"+86 {str(row['lxdh'])[:3]}-{str(row['lxdh'])[3:7]}-{str(row['lxdh'])[7:]}"
    for row in rows[CLEAN + FIXABLE:]:  # a wrong check character
        body = str(row["gmsfhm"])[:17]
        row["gmsfhm"] = body + ("1" if str(row["gmsfhm"])[17] != "1" else "2")
    return rows


def test_inserts_updates_and_deletes_reach_the_hub(live_stack: object, unique: str, tmp_path: Path) -> None:
    settings, _writer = whole_hub(unique, tmp_path / "secrets", ["person"])
    create_topics(settings, settings.topics.sources, partitions=1)
    rows = _residents()
    with cdc_source(settings, unique, tmp_path) as (_source, table), \
            running_stage(settings, ["person"], CdcStage(settings, datasets=["person"])), \
            running_stage(settings, ["person"]), \
            running_stage(settings, ["person"], SinkStage(settings, datasets=["person"]), batch_size=10_000):
        with department() as conn:
            insert(conn, table, rows)
            updated_from = int(time.time() * 1000)
            for row in rows[:20]:
                conn.execute(f"UPDATE hukou.{table} SET zz = %s WHERE gmsfhm = %s",
                             (f"厦门市思明区五四路{row['lxdh']}号", row["gmsfhm"]))
            updated_to = int(time.time() * 1000)
            for row in rows[20:30]:
                conn.execute(f"DELETE FROM hukou.{table} WHERE gmsfhm = %s", (row["gmsfhm"],))
        topics = [settings.topics.norm("person"), settings.topics.dlq("normalize"), settings.topics.dlq("ingest")]
        deadline = time.monotonic() + 60
        # records read, not offsets: the normalise stage's transactions leave markers between them
        counts = {t: len(read_all(settings, t)) for t in topics}
        while sum(counts.values()) < 230 and time.monotonic() < deadline:
            time.sleep(1)
            counts = {t: len(read_all(settings, t)) for t in topics}
        assert sum(counts.values()) == 230, counts
        assert counts[settings.topics.dlq("ingest")] == 0

        codec = Codec()
        clean = [codec.decode(m.value())[1] for m in read_all(settings, settings.topics.norm("person"))]
        letters = [codec.decode(m.value())[1] for m in read_all(settings, settings.topics.dlq("normalize"))]
        assert Counter(e["op"] for e in clean) == {"c": CLEAN + FIXABLE, "u": 20, "d": 10}
        assert {e["source"]["department"] for e in clean} == {"public-security"}
        assert Counter(d["reason"] for d in letters) == {"id_number.checksum": INVALID}
        fixed = {e["after"]["id_number"]: e["after"] for e in clean if e["op"] == "c"}
        sample = fixed[str(rows[CLEAN]["gmsfhm"]).upper()]
        assert sample["name"] == str(rows[CLEAN]["xm"]).strip() and sample["gender"] in ("1", "2", "男", "女")

        service = object_service(settings)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the sink writes within a second or two of the clean events
            try:
                person = service.object(str(rows[0]["gmsfhm"]))
                if person["attributes"]["address"]["value"].startswith("厦门"):
                    break
            except Exception:
                pass
            time.sleep(1)
        for row in rows[:20]:
            address = service.object(str(row["gmsfhm"]))["attributes"]["address"]
            assert address["value"] == f"厦门市思明区五四路{row['lxdh']}号"
            assert updated_from - 1000 <= address["source_ts_ms"] <= updated_to + 1000  # the commit time
        for row in rows[20:30]:
            ops = [e["op"] for e in service.timeline(str(row["gmsfhm"]))["events"]]
            assert ops.count("d") == 1 and ops.count("c") == 1
