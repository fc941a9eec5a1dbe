"""A province reload: a backlog of raw ``person`` events through the whole hub — normalise, fan-out to a
subscriber receiving every person event, and the ClickHouse sink — by `pobi worker --processes 1` (the three
stages on threads of one process) and `--processes 2` (normalise and fan-out in two processes each, the sink
in the worker's own), beside a plain consume→produce loop over the same backlog in the same run.

    .venv/bin/python bench/reload_bench.py [--events 10000000] [--processes 1 2] [--json bench/results/reload.json]

The backlog (5 % dirty, 2 % invalid, as in the normalisation benchmark) waits on ``ingest.person`` before the
worker starts; the clock runs from the first clean event on ``norm.person`` (the worker has joined its
groups) until the normalise, fan-out and sink groups have committed past the end of every topic they read.
Its rate is the whole worker's capacity on this machine — what `pobi bench` paces its end-to-end runs
from — and gives the time the province's 1.25 billion records would take. Each run has its own namespace
and ClickHouse database, removed afterwards. Needs the local stack (`pobi stack up`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka.admin import NewTopic

from foundation.settings import Settings
from topics.admin import admin_client, group_progress

sys.path.insert(0, str(Path(__file__).parent))
from common import consume_produce_baseline, send_encoded, write_report
from normalize_bench import encode_people
from sink_bench import WorkerMemory, prepare, remove

PROVINCE_RECORDS = 1_250_000_000


def _caught_up(settings: Settings) -> tuple[bool, int]:
    """(every stage's group committed past the end of what it reads, records on ``norm.person``)."""
    topics = settings.topics
    reads = {"normalize": [topics.ingest("person")], "fanout": [topics.norm("person")],
             "sink": [topics.ingest("person"), topics.norm("person"), topics.audit_delivery,
                      *(topics.dlq(s) for s in ("normalize", "delivery"))]}
    done, clean = True, 0
    for stage, names in reads.items():
        for name, (end, committed) in group_progress(settings, topics.group(stage), names).items():
            done = done and committed >= end
            if name == topics.norm("person"):
                clean = end
    return done, clean


def reload(settings: Settings, events: int, processes: int, timeout_s: float) -> dict[str, float | int]:
    env = {**os.environ, "POBI_NAMESPACE": settings.namespace,
           "POBI_CLICKHOUSE_DATABASE": settings.clickhouse_database, "POBI_API_PORT": "0"}
    pobi = str(Path(sys.executable).with_name("pobi"))
    worker = subprocess.Popen([pobi, "worker", "--stage", "normalize", "--stage", "fanout", "--stage", "sink",
                               "--processes", str(processes)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    memory = WorkerMemory(worker.pid)
    deadline = time.monotonic() + timeout_s
    started = finished = 0.0
    try:
        while time.monotonic() < deadline and worker.poll() is None:
            done, clean = _caught_up(settings)
            now = time.perf_counter()
            if clean and not started:
                started = now
            if started and done:
                finished = now
                break
            time.sleep(0.5)
    finally:
        memory.stop()
        worker.terminate()
        worker.wait(60)
    if not finished:
        raise SystemExit(f"the worker with {processes} process(es) did not take the backlog within {timeout_s:.0f} s")
    seconds = finished - started
    rate = events / seconds
    return {"processes": processes, "events": events, "seconds": round(seconds, 2),
            "events_per_second": round(rate), "province_hours": round(PROVINCE_RECORDS / rate / 3600, 1),
            "ten_million_minutes": round(10_000_000 / rate / 60, 1), "worker_max_rss_mb": memory.peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds a run may take")
    parser.add_argument("--json", type=Path, default=Path("bench/results/reload.json"))
    args = parser.parse_args()
    run = f"rbench{int(time.time())}"
    backlog = encode_people(args.events)
    results: dict[str, dict[str, float | int]] = {}
    for processes in args.processes:
        settings = prepare(f"{run}p{processes}")
        try:
            send_encoded(settings, settings.topics.ingest("person"), backlog)
            if not results:
                target = settings.topics.named("baseline.out")
                admin = admin_client(settings)  # must outlive its future
                admin.create_topics([NewTopic(target, 6, 1)])[target].result(timeout=15)
                seconds = consume_produce_baseline(settings, settings.topics.ingest("person"), target, args.events)
                results["baseline: plain consume→produce"] = {"events": args.events, "seconds": round(seconds, 2),
                                                              "events_per_second": round(args.events / seconds)}
            results[f"pobi worker --processes {processes}"] = reload(settings, args.events, processes,
                                                                               args.timeout)
        finally:
            remove(settings)
    base = results["baseline: plain consume→produce"]["events_per_second"]
    for result in results.values():
        result["ratio_to_baseline"] = round(result["events_per_second"] / base, 3)
    write_report(args.json, {"events": args.events, "results": results})
    for name, result in results.items():
        print(f"{name}: {result['events_per_second']:,} events/s ({result['ratio_to_baseline']} of the baseline)"
              + (f", 1.25 billion records in {result['province_hours']} h" if "province_hours" in result else ""))


if __name__ == "__main__":
    main()
