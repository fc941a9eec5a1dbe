"""The object services and the dashboards at a province's size (`pobi bench views` runs this).

    .venv/bin/python bench/views_bench.py [--persons 1000000] [--json bench/results/views.json]

Loads synthetic but realistic clean events (bench/views_data.py) into a database of its own through the
sink's own row building (``clean_event_rows``, ``delivery_rows``, the tallies and their offset cover) and its
writer, replaying 1 % of the batches as a crash would, and checks afterwards that every count is exact. Then
times every object-service query through ``ObjectService`` (the 360° view, timeline, tracker on random
persons; search by a surname, a two-character fragment and id prefixes) and every dashboard query: median,
p99, and the rows ClickHouse read, each query limited to 1 GiB of memory (one that needs more fails the run).
Baselines in the same run: the 360° view through the ``entity_current`` view and search by scanning every
attribute row, as pobi did before the search index (timed at up to 1 M persons; they only grow).
Needs the local stack (`pobi stack up`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from clickhouse_driver.errors import ServerException
from common import machine, write_report
from views_data import Sizes, deliveries, events, person_id

from foundation.settings import load_settings
from pobi.objects import ObjectService
from sinks.clickhouse.migrate import apply_migrations
from sinks.clickhouse.queries import TALLY_COVER, VIEW_QUERIES
from sinks.clickhouse.rows import COLUMNS, Rows, clean_event_rows, delivery_rows
from sinks.clickhouse.tallies import TALLY_COLUMNS, Tally, tally_key
from sinks.clickhouse.writer import ClickHouseWriter

DB = "bench_views"
BATCH = 20_000
GIB = 1 << 30
SURNAMES, PAIRS = "陈林黄张李王吴刘", ("陈志", "林秀", "黄建", "王丽")
BEFORE = {
    "360° view through entity_current (before)": """
        SELECT attribute, current_value, last_department, last_ts_ms, sources FROM {db}.entity_current
        WHERE entity_type = 'person' AND entity_id = %(entity_id)s ORDER BY attribute""",
    "search 陈 scanning attributes (before)": """
        SELECT entity_type, entity_id, argMax(value, source_ts_ms) AS label, max(source_ts_ms) AS newest
        FROM {db}.attributes FINAL
        WHERE attribute IN ('name', 'legal_rep_name', 'holder_name', 'licence_name', 'item_name')
          AND positionUTF8(value, '陈') > 0
        GROUP BY entity_type, entity_id ORDER BY newest DESC LIMIT 20""",
}


class Timed:
    """ClickHouse as the object services call it, recording each query's time and rows read."""

    def __init__(self, writer: ClickHouseWriter, memory: int = GIB) -> None:
        self.client = writer.client
        self.memory = memory
        self.calls: list[tuple[float, int]] = []

    def __call__(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        started = time.perf_counter()
        rows: list[tuple[Any, ...]] = self.client.execute(query, params, settings={"max_memory_usage": self.memory})
        self.calls.append(((time.perf_counter() - started) * 1000, self.client.last_query.progress.rows))
        return rows


def load(writer: ClickHouseWriter, sizes: Sizes, now_ms: int) -> dict[str, Any]:
    """Write every event as the sink would, batch by batch, replaying 1 % of the batches; the true counts."""
    offsets, truth = Counter[str](), Counter[str]()
    batch: list[dict[str, Any]] = []
    written = replayed = 0

    def write(batch: list[dict[str, Any]]) -> None:
        rows, tally = Rows(), Tally()
        for index, event in enumerate(batch):
            topic = "audit.delivery" if "subscriber" in event else f"norm.{event['dataset']}"
            rows.origin = index
            if topic == "audit.delivery":
                delivery_rows(event, rows)
                key = tally_key("delivery", event, 0)
            else:
                clean_event_rows(event, rows)
                key = tally_key("clean", event, 0)
            tally.add(index, (topic, 0, event["_offset"]), key)
        for table in rows.tables:
            writer.insert(table, COLUMNS[table], rows.columns(table))
        covered = {(t, p): o for t, p, o in writer.execute(TALLY_COVER.replace("{db}", DB),
                                                           {"topics": tuple(tally.topics())})}
        counted = tally.rows(covered, set())
        writer.insert("stage_tallies", TALLY_COLUMNS, [list(c) for c in zip(*counted, strict=True)])

    started = time.perf_counter()
    for event in events(sizes, now_ms):
        for record in [event, *deliveries(event)]:
            topic = "audit.delivery" if "subscriber" in record else f"norm.{record['dataset']}"
            record["_offset"] = offsets[topic]
            offsets[topic] += 1
            truth[record["dataset"] if topic != "audit.delivery" else "delivered"] += 1
            batch.append(record)
        if len(batch) >= BATCH:
            write(batch)
            written += 1
            if written % 100 == 50:  # 1 %: a crash after the inserts, before the offsets were committed
                write(batch)
                replayed += 1
            batch = []
    write(batch)
    return {"seconds": round(time.perf_counter() - started, 1), "records": sum(truth.values()), "batches": written,
            "replayed_batches": replayed, "truth": dict(truth)}


def timed(measure: Callable[[int], Any], timer: Timed, runs: int) -> dict[str, Any]:
    """Median and p99 of ``runs`` calls (each its own random input), and the largest number of rows read."""
    totals, rows_read = [], []
    for run in range(runs):
        timer.calls.clear()
        measure(run)
        totals.append(sum(ms for ms, _ in timer.calls))
        rows_read.append(sum(n for _, n in timer.calls))
    ordered = sorted(totals)
    return {"median_ms": round(statistics.median(ordered), 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
            "max_rows_read": max(rows_read), "runs": runs}


def measure(writer: ClickHouseWriter, sizes: Sizes, runs: int) -> dict[str, dict[str, Any]]:
    timer = Timed(writer)
    service = ObjectService(timer, DB, date.today)
    rng = random.Random(5)

    def someone(_run: int) -> str:
        return person_id(rng.randrange(sizes.persons))

    results = {
        "object (360° view and links)": timed(lambda r: service.object(someone(r)), timer, runs),
        "timeline": timed(lambda r: service.timeline(someone(r)), timer, runs),
        "tracker": timed(lambda r: service.tracker(someone(r)), timer, runs),
        "search: a surname (陈, 林, 黄 …)": timed(lambda r: service.search(SURNAMES[r % 8]), timer, 16),
        "search: two characters (陈志, 林秀 …)": timed(lambda r: service.search(PAIRS[r % 4]), timer, 16),
        "search: id prefix, 6 digits": timed(lambda r: service.search(someone(r)[:6]), timer, 16),
        "search: id prefix, 10 digits": timed(lambda r: service.search(someone(r)[:10]), timer, 16),
    }
    for name, query in VIEW_QUERIES.items():
        results[f"dashboard: {name}"] = timed(lambda _r, q=query: timer(q.replace("{db}", DB), {}), timer, 10)
    if sizes.persons <= 1_000_000:  # the old paths, with the server's own memory limit
        before = Timed(writer, memory=0)
        for name, query in BEFORE.items():
            try:
                results[name] = timed(lambda r, q=query: before(q.replace("{db}", DB), {"entity_id": someone(r)}),
                                      before, 3)
            except ServerException as exc:
                writer.client.disconnect()
                results[name] = {"failed": str(exc).split("\n")[1][:120]}
    return results


def console_pages(sizes: Sizes, runs: int) -> dict[str, dict[str, Any]]:
    """What the console's pages cost a browser, over HTTP through the worker's API on this data: a person's page
    (the page itself, then its four requests at once, as the browser sends them) and a search as it is typed."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import quote

    from pobi.api import ObjectApi
    from pobi.objects import object_service

    api = ObjectApi(object_service(load_settings(clickhouse_database=DB), connections=8), "127.0.0.1", 0)
    api.start()
    base, rng = f"http://127.0.0.1:{api.port}", random.Random(7)

    def get(path: str) -> None:
        with urllib.request.urlopen(base + quote(path, safe="/?=&"), timeout=30) as answer:
            answer.read()

    def wall(call: Callable[[int], Any], n: int) -> dict[str, Any]:
        took = []
        for run in range(n):
            started = time.perf_counter()
            call(run)
            took.append((time.perf_counter() - started) * 1000)
        ordered = sorted(took)
        return {"median_ms": round(statistics.median(ordered), 1),
                "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1), "runs": n}

    def person_page(_run: int) -> None:
        someone = person_id(rng.randrange(sizes.persons))
        get("/console/")
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(get, [f"/{view}/{someone}" for view in ("object", "timeline", "tracker", "reads")]))

    try:
        person_page(-1)  # the first tracker request reads the contracts' purposes from Kafka once (~0.6 s)
        return {"console: a person's page (page + 4 requests at once)": wall(person_page, runs),
                "console: search as typed (陈, 林, 黄 …)": wall(lambda r: get(f"/search?q={SURNAMES[r % 8]}"), 16)}
    finally:
        api.stop()


def exact(writer: ClickHouseWriter, truth: dict[str, int]) -> bool:
    counted = dict(writer.execute(VIEW_QUERIES["event_counts"].replace("{db}", DB)))
    delivered = sum(n for _s, n, _m in writer.execute(VIEW_QUERIES["deliveries_per_subscriber"].replace("{db}", DB)))
    return counted == {k: v for k, v in truth.items() if k != "delivered"} and delivered == truth["delivered"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100, help="calls per object-service query")
    parser.add_argument("--json", type=Path, default=Path("bench/results/views.json"))
    parser.add_argument("--keep", action="store_true", help="leave the database for a look afterwards")
    args = parser.parse_args()
    writer = ClickHouseWriter(load_settings(clickhouse_database=DB), wait=False)
    writer.execute(f"DROP DATABASE IF EXISTS {DB}")
    apply_migrations(lambda q: writer.execute(q), DB)
    sizes = Sizes(args.persons)
    try:
        loaded = load(writer, sizes, int(time.time() * 1000))
        writer.execute(f"OPTIMIZE TABLE {DB}.stage_tallies")  # as the server's background merges would
        rows = {table: {"rows": n, "bytes_on_disk": size} for table, n, size in writer.execute(
            f"SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = '{DB}' AND active "
            "GROUP BY table")}
        results = measure(writer, sizes, args.runs)
        results |= console_pages(sizes, min(args.runs, 50))
        counts_exact = exact(writer, loaded["truth"])
    finally:
        if not args.keep:
            writer.execute(f"DROP DATABASE IF EXISTS {DB}")
    report = {"persons": args.persons, "machine": machine(), "sizes": vars(sizes), "load": loaded,
              "table_rows": rows, "counts_exact_after_replays": counts_exact, "results": results}
    write_report(args.json, report)
    print(f"{args.persons:,} persons: {loaded['records']:,} records ({rows['attributes']['rows']:,} attribute rows) "
          f"written in {loaded['seconds']} s, {loaded['replayed_batches']} batches replayed; "
          f"counts exact: {counts_exact}")
    print("| query | median ms | p99 ms | rows read (max) |\n|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | failed: {r['failed']} | | |" if "failed" in r else
              f"| {name} | {r['median_ms']:,} | {r['p99_ms']:,} | {r.get('max_rows_read', 0):,} |")
    if not counts_exact:
        sys.exit(1)


if __name__ == "__main__":
    main()
