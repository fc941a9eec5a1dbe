"""`pobi bench [--quick] [--json]`: every benchmark of the repository in one run, each figure beside its
baseline — the consume→produce ceiling, normalisation (one process and the worker's default), fan-out with 1
and 10 contracts, the ClickHouse sink, a reload of a backlog through the whole worker (1 and 2 processes per
stage: the worker's capacity, and the province's 1.25 billion records at that rate), and end to end
(publish → clean → visible in ClickHouse and in a subscriber's feed) at 30 % and 70 % of the worker's
capacity with a paced producer, with the worker's peak memory.

The benchmarks are the scripts in ``bench/`` (each can run alone); this command runs them in order on the
local stack and writes ``bench/results/bench.json``. It needs a checkout of the repository.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from foundation.errors import PobiError
from pobi.cli.output import console, get_settings, print_json, print_table

BENCH = Path(__file__).resolve().parents[2] / "bench"
progress = Console(stderr=True, highlight=False)  # progress lines: standard output holds only the results
SIZES = {True: {"normalize": 50_000, "fanout": 20_000, "sink": 20_000, "publish": 30_000, "reload": 40_000,
               "seconds": 10, "profile": 5_000},
         False: {"normalize": 200_000, "fanout": 50_000, "sink": 50_000, "publish": 100_000, "reload": 300_000,
                 "seconds": 30, "profile": 20_000}}


def _run(script: str, *args: str, name: str = "") -> dict[str, Any]:
    out = BENCH / "results" / f"{name or Path(script).stem}.json"
    result = subprocess.run([sys.executable, str(BENCH / script), *args, "--json", str(out)], capture_output=True,
                            text=True, check=False, timeout=4 * 3600)
    if result.returncode != 0:
        raise PobiError(f"{script} failed: {(result.stderr or result.stdout).strip().splitlines()[-1:]}")
    measured: dict[str, Any] = json.loads(out.read_text())
    return measured


app = typer.Typer(help="Benchmarks on the local stack, each figure beside its baseline.",
                  invoke_without_command=True)


def _stack_up() -> None:
    if not (BENCH / "normalize_bench.py").exists():
        raise PobiError(f"{BENCH} is missing: `pobi bench` runs from a checkout of the repository")
    from pobi.stack.manager import Stack

    Stack(get_settings()).up(report=lambda _m: None)


@app.command()
def views(persons: int = typer.Option(1_000_000, "--persons", min=1_000, max=50_000_000,
                                      help="persons to load (enterprises, licences, cases in Fujian's proportions)"),
          runs: int = typer.Option(100, "--runs", min=5, max=10_000, help="calls per object-service query"),
          as_json: bool = typer.Option(False, "--json", help="print the results as JSON")) -> None:
    """The object services and dashboards at a province's size: median, p99 and rows read of every query,
    in bench/results/views-<persons>.json.

    Example: `pobi bench views --persons 1000000 --runs 5`
    """
    _stack_up()
    progress.print(f"loading {persons:,} persons through the sink's row building … (about 5 s per 100,000)")
    report = _run("views_bench.py", "--persons", str(persons), "--runs", str(runs), name=f"views-{persons}")
    if as_json:
        print_json(report)
        return
    load = report["load"]
    console.print(f"{persons:,} persons: {load['records']:,} records written in {load['seconds']} s, "
                  f"{load['replayed_batches']} batches replayed; counts exact: {report['counts_exact_after_replays']}")
    print_table(f"pobi bench views ({report['machine']})", ["query", "median ms", "p99 ms", "rows read (max)"],
                [(name, *(("failed", r["failed"], "") if "failed" in r else
                          (r["median_ms"], r["p99_ms"], f"{r['max_rows_read']:,}")))
                 for name, r in report["results"].items()])


@app.callback()
def bench(ctx: typer.Context,
          quick: bool = typer.Option(False, "--quick", help="smaller runs: a few minutes"),
          as_json: bool = typer.Option(False, "--json", help="print the collected results as JSON")) -> None:
    """Run every pipeline benchmark on the local stack; figures beside their baselines, in
    bench/results/bench.json. `pobi bench views` measures the object services and dashboards."""
    if ctx.invoked_subcommand is not None:
        return
    _stack_up()
    size = SIZES[quick]
    started = time.perf_counter()
    progress.print("normalisation …")
    normalize = _run("normalize_bench.py", "--events", str(size["normalize"]))
    progress.print("fan-out …")
    fanout = _run("fanout_bench.py", "--events", str(size["fanout"]))
    progress.print("sink …")
    sink = _run("sink_bench.py", "--events", str(size["sink"]), "--rate", "100", "--seconds", "1")
    progress.print("publish …")
    publish = _run("publish_bench.py", "--rows", str(size["publish"]))["results"]
    progress.print("a reload through the whole worker, --processes 1 and 2 …")
    reload = _run("reload_bench.py", "--events", str(size["reload"]), "--processes", "1", "2")["results"]
    # the end-to-end runs are paced from the whole worker's capacity (normalise, fan-out and sink sharing the
    # machine), not normalise's alone: paced from that, they overloaded the worker
    capacity = reload["pobi worker --processes 1"]["events_per_second"]
    end_to_end = {}
    for share in (0.3, 0.7):
        rate = max(1, int(capacity * share))
        progress.print(f"end to end at {share:.0%} of the worker's {capacity:,} events/s …")
        run = _run("sink_bench.py", "--latency-only", "--rate", str(rate), "--seconds", str(size["seconds"]))
        end_to_end[f"{share:.0%}"] = run["results"]["publish-to-visible latency"]
    progress.print("where each stage's time goes (profiled) …")
    profile = _run("stage_profile.py", "--events", str(size["profile"]))["stages"]
    minutes = round((time.perf_counter() - started) / 60, 1)
    report = {"quick": quick, "machine": normalize["machine"], "minutes": minutes,
              "normalize": normalize["results"], "fanout": fanout["results"],
              "sink": {k: v for k, v in sink["results"].items() if k != "publish-to-visible latency"},
              "publish": publish, "reload": reload, "end_to_end": end_to_end, "profile": profile}
    report["targets"] = targets(report)
    (BENCH / "results" / "bench.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if as_json:
        print_json(report)
        return
    rows = [(f"normalise: {k}", f"{v['events_per_second']:,} ev/s", v["ratio_to_baseline"])
            for k, v in normalize["results"].items()]
    rows += [(f"fan-out: {k}", f"{v['events_per_second']:,} ev/s", v["ratio_to_baseline"])
             for k, v in fanout["results"].items()]
    rows += [(f"sink: {k}", f"{v['events_per_second']:,} ev/s, {v['rows_per_second']:,} rows/s", "")
             for k, v in report["sink"].items()]
    rows += [(f"publish: {k}", f"{v['events_per_second']:,} ev/s", v["ratio_to_baseline"]) for k, v in publish.items()]
    rows += [(f"reload: {k}", f"{v['events_per_second']:,} ev/s" + (f"; 1.25 bn records in {v['province_hours']} h"
                                                                     if "province_hours" in v else ""),
              v["ratio_to_baseline"]) for k, v in reload.items()]
    for k, v in end_to_end.items():
        rows.append((f"end to end at {k} ({v['rate_per_second']:,} ev/s): p50 / p99 / p99.9 to ClickHouse",
                     f"{v['p50_ms']} / {v['p99_ms']} / {v['p999_ms']} ms; worker {v['worker_max_rss_mb']} MB", ""))
        rows.append((f"end to end at {k}: p50 / p99 / p99.9 to a subscriber's feed",
                     f"{v['feed_p50_ms']} / {v['feed_p99_ms']} / {v['feed_p999_ms']} ms", ""))
    for stage, measured in profile.items():
        phases = sorted(measured["phases_us"].items(), key=lambda kv: -kv[1])
        rows.append((f"{stage}, profiled: where an event's time goes",
                     "; ".join(f"{phase} {us} µs" for phase, us in phases[:4]), ""))
    print_table(f"pobi bench ({'quick' if quick else 'full'}, {report['minutes']} min, {report['machine']})",
                ["run", "figure", "vs baseline"], rows)
    print_table("issue 21's targets", ["target", "measured", "met"],
                [(name, str(t["measured"]), "yes" if t["met"] else "no") for name, t in report["targets"].items()])


def targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each of issue 21's targets with the figure it is judged by (from this run) and whether it was met."""
    normalize = report["normalize"]["pobi normalisation stage, one process"]["ratio_to_baseline"]
    ten = report["fanout"]["fan-out, 10 contracts"]
    per_delivery = round(1e6 / (ten["events_per_second"] * ten["deliveries_per_event"]), 1)
    sink = report["sink"]["pobi sink stage"]["events_per_second"]
    publish = next(v["ratio_to_baseline"] for k, v in report["publish"].items() if k.endswith("jsonl"))
    memory = max([v["worker_max_rss_mb"] for v in report["end_to_end"].values()]
                 + [v["worker_max_rss_mb"] for v in report["reload"].values() if "worker_max_rss_mb" in v])
    busy = report["end_to_end"]["70%"]
    found = {"normalise, one process, share of consume→produce (≥ 0.40)": (normalize, normalize >= 0.40),
             "fan-out, µs per delivery with 10 contracts (≤ 15)": (per_delivery, per_delivery <= 15),
             "sink, events/s in one process (≥ 40,000)": (sink, sink >= 40_000),
             "publish (jsonl), share of pre-encoded producing (≥ 0.50)": (publish, publish >= 0.50),
             "worker resident memory, MB (≤ 500)": (memory, memory <= 500),
             "publish → feed p99 at 70 % load, ms (≤ 250)": (busy["feed_p99_ms"], (busy["feed_p99_ms"] or 1e9) <= 250),
             "publish → ClickHouse p99 at 70 % load, ms (≤ 1,000)": (busy["p99_ms"], (busy["p99_ms"] or 1e9) <= 1000)}
    return {name: {"measured": measured, "met": met} for name, (measured, met) in found.items()}
