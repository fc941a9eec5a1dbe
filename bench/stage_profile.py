"""Where each stage's time goes, per event: the normalise, fan-out and sink stages' ``handle`` run under
cProfile on the same person events, and their time split into phases (decode, rules, encode, dedup, produce,
acknowledgements, rows, inserts …) by the functions that do each; what no phase names is "the rest" (the
stage's own loop and bookkeeping). Kafka's consume is not in it: the records are read first, then handed to
``handle`` in batches, as the runner does.

    .venv/bin/python bench/stage_profile.py [--events 20000] [--batch 2000] [--json bench/results/profile.json]

cProfile slows Python calls (by about a third here), so the figures are shares of a profiled run: read them as
where the time goes, and the benchmarks' throughput as how much there is. Needs the local stack.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Message
from confluent_kafka.admin import NewTopic

from foundation.clock import CST
from foundation.kafka import client_config
from foundation.settings import Settings, load_settings
from schemas.registry import default_registry
from sinks.clickhouse.migrate import apply_migrations
from sinks.clickhouse.stage import SinkStage
from sinks.clickhouse.writer import ClickHouseWriter
from streams.fanout.stage import FanoutStage
from streams.normalize.stage import NormalizeStage
from topics.admin import admin_client, record_counts
from topics.dead_letters import DLQ_STAGES
from topics.subscriptions import CONTRACTS_DIR, apply_contracts, load_contracts

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, remove_topics, send_encoded, write_report
from normalize_bench import encode_people

# phase → the functions whose cumulative time it is: (file ending, function name); none of one stage's
# functions calls another's, so the phases do not overlap
PHASES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "normalize": {
        "decode": [("schemas/codec.py", "decode")],
        "envelope checks and event identity": [("normalize/envelope.py", "envelope_problem"),
                                               ("normalize/envelope.py", "dedup_key"),
                                               ("normalize/envelope.py", "content_digest")],
        "rules": [("normalize/event.py", "normalize_event")],
        "encode": [("schemas/codec.py", "encode_with"), ("schemas/codec.py", "encode_own")],
        "dedup (waiting for Redis)": [("concurrent/futures/_base.py", "result")],
        "produce": [("topics/producer.py", "produce"), ("topics/producer.py", "send_dead_letter")],
        "acknowledgements (flush)": [("topics/producer.py", "flush")],
        "metrics": [("normalize/stage.py", "_measure")],
    },
    "fanout": {
        "decode": [("schemas/codec.py", "decode")],
        "select, project, mask": [("fanout/deliver.py", "selects"), ("fanout/deliver.py", "delivery"),
                                  ("fanout/deliver.py", "audit")],
        "encode (delivery and log entry)": [("schemas/feeds.py", "encode"), ("fanout/deliver.py", "event_part"),
                                            ("fanout/deliver.py", "entry")],
        "produce": [("topics/producer.py", "produce_with_headers"), ("topics/producer.py", "produce")],
        "acknowledgements (flush)": [("topics/producer.py", "flush")],
    },
    "sink": {
        "decode": [("schemas/codec.py", "decode")],
        "rows": [("clickhouse/rows.py", "clean_event_rows"), ("clickhouse/tallies.py", "tally_key")],
        # inserts and tallies run on the sink's writing thread, beside the next batch's rows; what the
        # profiled thread sees of them is its wait for the last batch's
        "waiting for ClickHouse (inserts and tallies)": [("concurrent/futures/_base.py", "result")],
    },
}


def prepare(tag: str) -> Settings:
    settings = load_settings(namespace=tag, clickhouse_database=tag, secrets_dir=Path(f"/tmp/{tag}-secrets"))
    names = [settings.topics.named(t) for t in ("ingest.person", "norm.person", "audit.delivery", "audit.read",
                                                "out.fuzhou-city", *(f"dlq.{s}" for s in DLQ_STAGES))]
    admin = admin_client(settings)
    new = [NewTopic(n, 3, 1) for n in names] + [NewTopic(settings.topics.named(t), 1, 1)
                                                for t in ("pobi.subscriptions", "pobi.schemas")]
    for fut in admin.create_topics(new).values():
        fut.result(timeout=15)
    contracts, _ = load_contracts(CONTRACTS_DIR, default_registry(), datetime.now(CST).date())
    apply_contracts(settings, [c for c in contracts if c.subscriber == "fuzhou-city"], default_registry())
    writer = ClickHouseWriter(settings, wait=False)
    apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)
    return settings


def read_topic(settings: Settings, topic: str, events: int) -> list[Message]:
    consumer = Consumer(client_config(settings, **{"group.id": f"{topic}-profile", "auto.offset.reset": "earliest",
                                                   "enable.auto.commit": False}))
    consumer.subscribe([topic])
    out: list[Message] = []
    deadline = time.monotonic() + 120
    while len(out) < events and time.monotonic() < deadline:
        out += [m for m in consumer.consume(5000, 1.0) if m.error() is None]
    consumer.close()
    return out


def profiled(stage: Any, messages: list[Message], batch: int) -> tuple[float, pstats.Stats]:
    """Seconds ``handle`` took over every batch (and its Redis confirmations), and the profile."""
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for start in range(0, len(messages), batch):
        stage.handle(messages[start:start + batch]).result()
    profile.disable()
    return time.perf_counter() - started, pstats.Stats(profile)


def phases(stats: pstats.Stats, wanted: dict[str, list[tuple[str, str]]]) -> dict[str, float]:
    """Cumulative seconds per phase: the sum over its functions (each counted once, at its outermost call)."""
    seconds = dict.fromkeys(wanted, 0.0)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, _tt, cumulative, _callers) in table.items():
        for phase, functions in wanted.items():
            if any(filename.endswith(ending) and function == name for ending, name in functions):
                seconds[phase] += cumulative
    return seconds


def report(name: str, events: int, seconds: float, stats: pstats.Stats) -> dict[str, Any]:
    split = phases(stats, PHASES[name])
    per_event = {phase: round(s / events * 1e6, 1) for phase, s in split.items()}
    per_event["the rest (the stage's own loop and bookkeeping)"] = round(
        max(0.0, seconds - sum(split.values())) / events * 1e6, 1)
    return {"events": events, "profiled_us_per_event": round(seconds / events * 1e6, 1), "phases_us": per_event}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=Path("bench/results/profile.json"))
    args = parser.parse_args()
    tag = f"prof{int(time.time())}"
    settings = prepare(tag)
    try:
        send_encoded(settings, settings.topics.ingest("person"), encode_people(args.events))
        results: dict[str, Any] = {}
        stages: list[tuple[str, Callable[[], Any], str]] = [
            ("normalize", lambda: NormalizeStage(settings, datasets=["person"]), settings.topics.ingest("person")),
            ("fanout", lambda: FanoutStage(settings, datasets=["person"]), settings.topics.norm("person")),
            ("sink", lambda: SinkStage(settings, datasets=["person"]), settings.topics.norm("person"))]
        for name, make, topic in stages:
            # normalise takes what was sent; fan-out and the sink what normalise wrote (fewer: duplicates, DLQ)
            messages = read_topic(settings, topic, record_counts(settings, [topic])[topic])
            stage = make()
            stage.setup()
            try:
                seconds, stats = profiled(stage, messages, args.batch)
            finally:
                stage.close()
            results[name] = report(name, len(messages), seconds, stats)
    finally:
        remove_topics(settings, settings.namespace + ".")
        ClickHouseWriter(settings, wait=False).execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    write_report(args.json, {"machine": machine(), "events": args.events, "batch": args.batch, "stages": results})
    for name, result in results.items():
        print(f"{name}: {result['profiled_us_per_event']} µs/event profiled ({result['events']:,} events)")
        for phase, us in sorted(result["phases_us"].items(), key=lambda kv: -kv[1]):
            print(f"  {phase:48} {us:7.1f} µs")


if __name__ == "__main__":
    main()
