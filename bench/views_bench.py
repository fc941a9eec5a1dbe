"""The object services' read paths at a province's size: synthetic persons loaded into a database of its own
through the sink's column layout, then each query timed beside the query it replaced, in the same run.

    .venv/bin/python bench/views_bench.py [--persons 1000000] [--json bench/results/views.json]

360° view: one entity's key range of ``attributes`` (grouped after the WHERE) against the ``entity_current``
view (which ClickHouse 18.16 groups whole before it applies the WHERE). Links: the incoming direction from
``links_in`` against scanning ``links``. Median of 5 runs (3 for the old, slow paths), random persons.
Needs the local stack (`pobi stack up`). This is the first step of the views issue; search and the
dashboards are not measured here yet.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from common import write_report

from foundation.settings import load_settings
from sinks.clickhouse.migrate import apply_migrations
from sinks.clickhouse.queries import OBJECT_QUERIES
from sinks.clickhouse.rows import COLUMNS
from sinks.clickhouse.writer import ClickHouseWriter

DB = "bench_views"
ATTRIBUTES = ("name", "gender", "birth_date", "division_code", "address", "phone", "__deleted",
              "id_number.birth_date")
OLD_ATTRIBUTES = """
    SELECT attribute, current_value, last_department, last_ts_ms, sources FROM {db}.entity_current
    WHERE entity_type = %(entity_type)s AND entity_id = %(entity_id)s ORDER BY attribute"""
OLD_LINKS = OBJECT_QUERIES["links"].replace("{db}.links_in", "{db}.links")


def load(writer: ClickHouseWriter, ids: list[str]) -> float:
    started = time.perf_counter()
    per_insert = 200_000 // len(ATTRIBUTES)
    for start in range(0, len(ids), per_insert):
        rows = [("person", i, a, f"v-{a}", "public-security", "hukou", 1_700_000_000_000, f"e-{i}")
                for i in ids[start:start + per_insert] for a in ATTRIBUTES]
        writer.insert("attributes", COLUMNS["attributes"], [list(c) for c in zip(*rows, strict=True)])
    links = [("enterprise", f"E{n}", "legal_representative", "person", ids[n], "market-regulation", 1, "x")
             for n in range(0, len(ids), 2)]  # every other person is some enterprise's legal representative
    for table in ("links", "links_in"):
        writer.insert(table, COLUMNS[table], [list(c) for c in zip(*links, strict=True)])
    return time.perf_counter() - started


def median_ms(writer: ClickHouseWriter, query: str, ids: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        entity_id = random.choice(ids[::2])
        started = time.perf_counter()
        rows = writer.execute(query.replace("{db}", DB), {"entity_type": "person", "entity_id": entity_id})
        times.append((time.perf_counter() - started) * 1000)
        assert rows, f"no answer for {entity_id}"
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, default=Path("bench/results/views.json"))
    args = parser.parse_args()
    writer = ClickHouseWriter(load_settings(clickhouse_database=DB), wait=False)
    writer.execute(f"DROP DATABASE IF EXISTS {DB}")
    apply_migrations(lambda q: writer.execute(q), DB)
    ids = [f"35010219{n:010d}" for n in range(args.persons)]
    try:
        seconds = load(writer, ids)
        results = {
            "360° view, entity_current view (before)": median_ms(writer, OLD_ATTRIBUTES, ids, 3),
            "360° view, one key range (now)": median_ms(writer, OBJECT_QUERIES["attributes"], ids, 5),
            "links both ways, scanning links (before)": median_ms(writer, OLD_LINKS, ids, 3),
            "links both ways, links_in by key (now)": median_ms(writer, OBJECT_QUERIES["links"], ids, 5),
        }
    finally:
        writer.execute(f"DROP DATABASE IF EXISTS {DB}")
    print(f"{args.persons:,} persons ({args.persons * len(ATTRIBUTES):,} attribute rows) loaded in {seconds:.1f} s")
    print("| query | median ms |\n|---|---:|")
    for name, ms in results.items():
        print(f"| {name} | {ms:,} |")
    write_report(args.json, {"persons": args.persons, "median_ms": results})


if __name__ == "__main__":
    main()
