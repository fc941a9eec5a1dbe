"""The fault harness: pobi on a three-broker cluster with several `pobi worker` processes, under a steady load,
through one fault at a time — and then the sets: every acknowledged event must end on ``norm.person`` or in
``dlq.normalize`` with its reason, every clean one in ClickHouse and in the subscriber's feed. Duplicates are
counted before dedup (on the topics, in ClickHouse's raw rows) and after it (ClickHouse ``FINAL``), order per
resident is checked on ``norm.person`` and on the feed, and recovery is timed from the consumer groups' lag.

    python bench/faults.py                       # every fault, 3 repetitions, 60,000 events at 1,000/s each
    python bench/faults.py --short               # what `make test` runs: two faults, 6,000 events, once
    python bench/faults.py --faults worker-pause --repeat 1 --json /tmp/pause.json

The harness starts its own stack (state under ``<stack_dir>/faults``, ports 195xx) and stops it at the end.
Exit 0 when nothing was lost and every run drained, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Message
from fault_hub import (
    SUBSCRIBER,
    LagWatch,
    Load,
    WorkerProcess,
    cluster,
    cluster_settings,
    prepare_run,
    read_topic,
    stage_topics,
)

from foundation.settings import Settings, load_settings
from pobi.stack.kafka import KafkaService
from pobi.stack.manager import Stack
from schemas.codec import Codec
from schemas.feeds import FeedDecoder
from sinks.clickhouse.writer import ClickHouseWriter
from topics.admin import admin_client, wait_for_members
from topics.schema_ids import SchemaIds
from topics.subscriptions import read_documents


@dataclass
class Scene:
    """What a fault acts on during one run."""

    stack: Stack
    settings: Settings
    workers: list[WorkerProcess]
    folder: Path
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    inject: Callable[[Scene], None]
    heal: Callable[[Scene], None]


def _leader_node(scene: Scene) -> KafkaService:
    """The broker leading partition 0 of ``norm.person``: losing it moves the busiest path."""
    topic = scene.settings.topics.norm("person")
    metadata = admin_client(scene.settings).list_topics(topic, timeout=10)
    leader = metadata.topics[topic].partitions[0].leader
    node = next(s for s in scene.stack.services if isinstance(s, KafkaService) and s.node == leader)
    scene.notes.append(f"broker {leader} led {topic}/0")
    return node


def _broker_fault(sig: signal.Signals) -> Fault:
    victim: list[KafkaService] = []

    def inject(scene: Scene) -> None:
        node = _leader_node(scene)
        victim[:] = [node]
        if sig == signal.SIGKILL:
            pid = node.our_pid()
            assert pid is not None
            os.killpg(pid, signal.SIGKILL)
        else:
            node.stop()

    def heal(scene: Scene) -> None:
        victim[0].start()

    name = "broker-kill" if sig == signal.SIGKILL else "broker-term"
    how = "SIGKILL" if sig == signal.SIGKILL else "SIGTERM (controlled shutdown)"
    return Fault(name, f"the leader of norm.person/0 stopped with {how}, restarted after the hold", inject, heal)


def _clickhouse_down() -> Fault:
    def stop(scene: Scene) -> None:
        scene.stack.service("clickhouse").stop()

    def start(scene: Scene) -> None:
        scene.stack.service("clickhouse").start()

    return Fault("clickhouse-down", "ClickHouse stopped for the hold, then started again", stop, start)


def _worker_pause() -> Fault:
    return Fault("worker-pause", "worker 1 SIGSTOPped past its session timeout (10 s), then SIGCONT: a zombie",
                 lambda scene: scene.workers[0].signal(signal.SIGSTOP),
                 lambda scene: scene.workers[0].signal(signal.SIGCONT))


def _worker_churn() -> Fault:
    def add(scene: Scene) -> None:
        number = len(scene.workers) + 1
        worker = WorkerProcess(number, scene.settings, scene.folder / f"worker-{number}.log")
        worker.start()
        scene.workers.append(worker)

    def remove(scene: Scene) -> None:
        code = scene.workers[0].stop()
        scene.notes.append(f"worker 1 removed with SIGTERM, exit {code}")

    return Fault("worker-churn", "a third worker added at the fault, worker 1 removed (SIGTERM) after the hold",
                 add, remove)


FAULTS = {f.name: f for f in (_broker_fault(signal.SIGKILL), _broker_fault(signal.SIGTERM), _worker_pause(),
                              _worker_churn(), _clickhouse_down())}


# -- the sets -----------------------------------------------------------------------------------------------
def _order(records: Iterable[tuple[Any, int]]) -> tuple[int, int]:
    """(records that landed after a newer event of the same key, keys whose last record is not their newest)."""
    newest: dict[Any, int] = {}
    last: dict[Any, int] = {}
    late = 0
    for key, n in records:
        if n < newest.get(key, -1):
            late += 1
        newest[key] = max(n, newest.get(key, -1))
        last[key] = n
    return late, sum(1 for key, n in last.items() if n != newest[key])


def _feed_decoder(settings: Settings) -> tuple[FeedDecoder, SchemaIds]:
    ids = SchemaIds(settings)
    ids.load()
    single = list(read_documents(settings).get(SUBSCRIBER, {}).get("schemas", {}).values())
    return FeedDecoder(lambda i: str(ids.schema_of(i)), single), ids


def check(settings: Settings, load: Load) -> dict[str, Any]:
    """Where every acknowledged event ended, and how often."""
    codec, tag = Codec(), f"{load.tag}-"

    def number(event_id: str) -> int:
        return int(event_id[len(tag):]) if event_id.startswith(tag) else -1

    clean: Counter[int] = Counter()
    norm_order: list[tuple[Any, int]] = []
    latencies = []
    message: Message
    for message in read_topic(settings, settings.topics.norm("person")):
        n = number(codec.decode(message.value())[1]["event_id"])
        if not clean[n] and n in load.sent_at:
            latencies.append(message.timestamp()[1] / 1000 - load.sent_at[n])
        clean[n] += 1
        norm_order.append(((message.partition(), message.key()), n))
    dead = Counter(number(codec.decode(m.value())[1]["context"]["event_id"])
                   for m in read_topic(settings, settings.topics.dlq("normalize")))
    decoder, ids = _feed_decoder(settings)
    try:
        fed: Counter[int] = Counter()
        feed_order = []
        for message in read_topic(settings, settings.topics.out(SUBSCRIBER)):
            n = number(decoder.decode(message.value(), message.headers())["event_id"])
            fed[n] += 1
            feed_order.append(((message.partition(), message.key()), n))
    finally:
        ids.close()
    writer = ClickHouseWriter(settings, wait=False)
    db = settings.clickhouse_database
    stored = Counter({number(e): c for e, c in writer.execute(
        f"SELECT event_id, count() FROM {db}.events WHERE dataset = 'person' GROUP BY event_id")})
    [(final_rows,)] = writer.execute(f"SELECT count() FROM {db}.events FINAL WHERE dataset = 'person'")

    acked = load.acknowledged
    norm_late, norm_stale = _order(norm_order)
    feed_late, feed_stale = _order(feed_order)
    latencies.sort()
    return {
        "sent": len(load.sent_at), "acknowledged": len(acked), "refused": len(load.refused),
        "clean": len(clean), "dead_letters": len(dead),
        "lost": len(acked - set(clean) - set(dead)),
        "lost_sample": sorted(acked - set(clean) - set(dead))[:10],
        "lost_in_clickhouse": len(set(clean) - set(stored)), "lost_in_feed": len(set(clean) - set(fed)),
        "in_both_norm_and_dlq": len(set(clean) & set(dead)),
        "duplicates_norm": sum(c - 1 for c in clean.values()) + sum(c - 1 for c in dead.values()),
        "duplicates_feed": sum(c - 1 for c in fed.values()),
        "duplicates_clickhouse_raw": sum(c - 1 for c in stored.values()),
        "duplicates_clickhouse_final": final_rows - len(stored),
        "late_norm": norm_late, "stale_keys_norm": norm_stale, "late_feed": feed_late, "stale_keys_feed": feed_stale,
        "norm_latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "norm_latency_p99_s": round(latencies[int(len(latencies) * 0.99)], 3) if latencies else None,
        "norm_latency_max_s": round(latencies[-1], 3) if latencies else None,
    }


# -- one run ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    events: int
    rate: float
    fault_at_s: float
    hold_s: float
    workers: int = 2


def run_once(stack: Stack, fault: Fault, plan: Plan, folder: Path, *, keep: bool = False) -> dict[str, Any]:
    namespace = f"f{uuid.uuid4().hex[:8]}"
    settings = prepare_run(stack, namespace)
    folder.mkdir(parents=True, exist_ok=True)
    workers = [WorkerProcess(n, settings, folder / f"worker-{n}.log") for n in range(1, plan.workers + 1)]
    scene = Scene(stack, settings, workers, folder)
    for worker in workers:
        worker.start()
    wait_for_members(settings, {group: len(workers) for group in stage_topics(settings)})
    load = Load(settings, plan.events, plan.rate, tag=namespace)
    started = time.time()
    with LagWatch(settings) as watch:
        load.start()
        time.sleep(plan.fault_at_s)
        fault_at = time.time()
        fault.inject(scene)
        time.sleep(max(0.0, plan.hold_s - (time.time() - fault_at)))
        healed_at = time.time()
        fault.heal(scene)
        load.done.wait(plan.events / plan.rate + 300)
        drained = watch.drained(300)
        finished = time.time()
    exits = [w.stop() for w in scene.workers]
    result = check(settings, load)
    lag = [lag for _at, lag in watch.samples if lag is not None]
    result.update({
        "fault": fault.name, "namespace": namespace, "drained": drained,
        "seconds": round(finished - started, 1), "healed_after_s": round(healed_at - fault_at, 1),
        "recovery_s": watch.recovered_after(fault_at, threshold=int(5 * plan.rate)),
        "max_lag": max(lag, default=0), "lag_samples_missing": sum(1 for _a, v in watch.samples if v is None),
        "worker_exits": exits, "notes": scene.notes,
        # batches a worker found fenced (a zombie's late batch, or one caught by a rebalance): aborted, re-read
        "batches_fenced": sum(w.log.read_text(errors="replace").count("rejoins with a new consumer")
                              for w in scene.workers),
    })
    if not keep:
        _remove_namespace(settings)
    return result


def _remove_namespace(settings: Settings) -> None:
    """A run's topics and tables go, so that 15 runs do not leave the cluster 15 times heavier."""
    admin = admin_client(settings)
    ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(f"{settings.namespace}.")]
    for future in admin.delete_topics(ours).values() if ours else []:
        future.exception(timeout=60)
    ClickHouseWriter(settings, wait=False).execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


# -- the whole harness --------------------------------------------------------------------------------------
def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["fault"] for r in runs):
        mine = [r for r in runs if r["fault"] == name]
        table[name] = {
            "repetitions": len(mine), "acknowledged": sum(r["acknowledged"] for r in mine),
            "lost": sum(r["lost"] + r["lost_in_clickhouse"] + r["lost_in_feed"] for r in mine),
            "duplicates_norm": sum(r["duplicates_norm"] for r in mine),
            "duplicates_feed": sum(r["duplicates_feed"] for r in mine),
            "duplicates_clickhouse_raw": sum(r["duplicates_clickhouse_raw"] for r in mine),
            "duplicates_clickhouse_final": sum(r["duplicates_clickhouse_final"] for r in mine),
            "late_norm": sum(r["late_norm"] for r in mine), "stale_keys_feed": sum(r["stale_keys_feed"] for r in mine),
            "recovery_s": [r["recovery_s"] for r in mine], "drained": all(r["drained"] for r in mine),
            "batches_fenced": sum(r["batches_fenced"] for r in mine),
        }
    return table


def markdown(report: dict[str, Any]) -> str:
    """The README's table from a report: one row per fault, sums over its repetitions."""
    lines = ["| fault | runs | acknowledged | lost | repeats on norm / in the feed (before dedup) | ClickHouse rows "
             "twice: raw / after FINAL | late or stale per resident (norm, feed) | batches fenced | recovery s |",
             "|---|---:|---:|---:|---|---|---|---:|---|"]
    for name, row in report["summary"].items():
        runs = [r for r in report["runs"] if r["fault"] == name]
        late = sum(r["late_norm"] + r["stale_keys_norm"] + r["late_feed"] + r["stale_keys_feed"] for r in runs)
        lines.append(f"| `{name}` | {row['repetitions']} | {row['acknowledged']:,} | {row['lost']} | "
                     f"{row['duplicates_norm']} / {row['duplicates_feed']} | {row['duplicates_clickhouse_raw']} / "
                     f"{row['duplicates_clickhouse_final']} | {late} | {row['batches_fenced']} | "
                     f"{', '.join(str(v) for v in row['recovery_s'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated: {', '.join(FAULTS)}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--fault-at", type=float, default=15.0, help="seconds into the load")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds the fault lasts")
    parser.add_argument("--short", action="store_true", help="two faults, 6,000 events at 400/s, once")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "faults.json")
    parser.add_argument("--port-base", type=int, default=19500, help="the harness stack's ports (195xx)")
    parser.add_argument("--keep", action="store_true", help="keep each run's topics and tables, and the stack")
    parser.add_argument("--state", type=Path, default=None, help="the harness's folder (default <stack_dir>/faults)")
    parser.add_argument("--table", type=Path, default=None, help="print the README's table of a report and exit")
    args = parser.parse_args(argv)
    if args.table is not None:
        print(markdown(json.loads(args.table.read_text())))
        return 0
    if args.short:
        args.faults, args.repeat, args.events, args.rate, args.fault_at, args.hold = (
            "broker-kill,worker-pause", 1, 6000, 400.0, 4.0, 15.0)
    unknown = [f for f in args.faults.split(",") if f not in FAULTS]
    if unknown:
        parser.error(f"unknown fault {unknown[0]}; known: {', '.join(FAULTS)}")
    root = args.state or load_settings().stack_path / "faults"
    stack = cluster(cluster_settings(root, args.port_base))
    shutil.rmtree(root / "runs", ignore_errors=True)  # the workers' logs of this invocation only
    plan = Plan(args.events, args.rate, args.fault_at, args.hold)
    runs: list[dict[str, Any]] = []
    started = time.time()
    stack.up(report=lambda line: print(line, file=sys.stderr))
    try:
        for repetition in range(1, args.repeat + 1):
            for name in args.faults.split(","):
                print(f"{name} #{repetition} …", file=sys.stderr, flush=True)
                result = run_once(stack, FAULTS[name], plan, root / "runs" / f"{name}-{repetition}", keep=args.keep)
                result["repetition"] = repetition
                runs.append(result)
                print(json.dumps({k: result[k] for k in ("fault", "acknowledged", "lost", "lost_in_clickhouse",
                                                         "lost_in_feed", "duplicates_norm", "late_norm",
                                                         "stale_keys_feed", "recovery_s", "drained")}),
                      file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            stack.down(report=lambda line: print(line, file=sys.stderr))
    report = {"plan": plan.__dict__, "faults": {n: FAULTS[n].what for n in args.faults.split(",")},
              "minutes": round((time.time() - started) / 60, 1), "summary": summarise(runs), "runs": runs,
              "threads": threading.active_count()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(report["summary"], indent=2))
    ok = all(r["lost"] + r["lost_in_clickhouse"] + r["lost_in_feed"] == 0 and r["drained"] for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
