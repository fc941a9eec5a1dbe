"""Normalisation throughput on ``person`` events, beside two figures measured in the same run.

    .venv/bin/python bench/normalize_bench.py [--events 100000] [--processes 2] [--json bench/results/normalize.json]

baseline: a plain confluent-kafka consume→produce loop over the same events (batches of 5,000, the bytes
          forwarded unchanged to another topic, flushed and offsets stored per batch): what Kafka and
          librdkafka cost here with no work at all.
faust:    an empty Faust agent (``noack_take`` + ack) over the same events: the ceiling pobi would have if the
          stage ran as a Faust stream.
pobi:     the worker's normalisation stage (``StageRunner`` + ``NormalizeStage``, what `pobi worker` runs):
          decode, Redis reservation, rules, classification, encode, produce, wait for acks, Redis
          confirmation and ledger, store offsets — once in one process, once as `pobi worker` runs it by
          default (one stage process per core).
For the pobi figures the stage's copies start first (each in its own process, as the worker runs them) and
join their group on an empty topic; then the events are sent, pre-encoded, far faster than the stage takes
them, and the ledger is counted from the first event to the last, so start-up and joins are not counted.
Each measurement has its own namespace of topics and Redis keys, removed afterwards. Needs the local stack
(`pobi stack up`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka.admin import NewTopic

from foundation.connect import redis_client
from foundation.settings import Settings, load_settings
from pobi.demo.traffic import DemoTraffic
from pobi.worker.spec import StageSpec, run_copies
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope, record_key
from topics.admin import admin_client, wait_for_members
from topics.dead_letters import DLQ_STAGES

sys.path.insert(0, str(Path(__file__).parent))
from common import add_ratios, consume_produce_baseline, remove_topics, send_encoded, write_report

SOURCE = SourceRef("public-security", "hukou")
BATCH = 5000
PARTITIONS = 6
Encoded = list[tuple[bytes, bytes]]


def encode_people(events: int) -> Encoded:
    codec = Codec()
    schema = codec.registry.latest("person")
    traffic = DemoTraffic(seed=5)  # 5 % dirty, 2 % invalid: the DLQ path is part of the work
    out = []
    for n in range(events):
        envelope = build_envelope(schema, event_id=f"bench-{n}", op="c", source=SOURCE, position=str(n),
                                  ts_ms=int(time.time() * 1000), before=None, after=traffic.person())
        out.append((record_key(schema, envelope), codec.encode_with(schema, envelope)))
    return out


def namespace(run: str, tag: str, created: list[Settings]) -> Settings:
    settings = load_settings(namespace=f"{run}{tag}")
    names = [settings.topics.named(t) for t in ("ingest.person", "norm.person", "baseline.out",
                                         *(f"dlq.{s}" for s in DLQ_STAGES))]
    admin = admin_client(settings)  # must outlive its futures
    for fut in admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in names]).values():
        fut.result(timeout=15)
    created.append(settings)
    return settings


def remove(created: list[Settings]) -> None:
    for settings in created:
        remove_topics(settings, settings.namespace + ".")
        client = redis_client(settings)
        keys = list(client.scan_iter(f"{settings.redis_key()}:*", count=10_000))
        for start in range(0, len(keys), 10_000):
            client.delete(*keys[start:start + 10_000])


def pobi_stage(settings: Settings, encoded: Encoded, copies: int) -> tuple[int, float]:
    """The stage as `pobi worker --processes <copies>` runs it, each copy in its own process. The copies start
    on an empty topic and join their group; then the events are sent (pre-encoded, far faster than the stage
    handles them) and counted from the ledger, first to last; returns (events counted, seconds)."""
    stop = threading.Event()
    thread = threading.Thread(target=run_copies, args=(StageSpec.of("normalize", settings, ["person"], BATCH),
                                                       copies, stop), kwargs={"children": True}, daemon=True)
    thread.start()
    wait_for_members(settings, {settings.topics.group("normalize"): copies}, 60)
    client = redis_client(settings)
    key = f"{settings.redis_key('ledger')}:normalize:person"

    def counted() -> int:
        return int(client.hget(key, "in") or 0)

    sender = threading.Thread(target=send_encoded, args=(settings, settings.topics.ingest("person"), encoded))
    sender.start()
    while counted() == 0:
        time.sleep(0.002)
    first, started = counted(), time.perf_counter()
    while counted() < len(encoded):
        time.sleep(0.005)
        if not thread.is_alive():
            raise SystemExit("the stage stopped early")
    seconds = time.perf_counter() - started
    stop.set()
    thread.join(60)
    sender.join()
    return len(encoded) - first, seconds


def faust_ceiling(settings: Settings, topic: str, events: int) -> float:
    result = settings.stack_path / "bench" / "faust-ceiling.txt"
    result.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_TOPIC": topic, "BENCH_EVENTS": str(events), "BENCH_RESULT": str(result),
           "POBI_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "BENCH_DATADIR": str(result.parent)}
    run = subprocess.run([sys.executable, str(Path(__file__).with_name("faust_ceiling.py")), "worker", "-l", "warn"],
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    if not result.exists():
        raise SystemExit(f"the Faust ceiling run failed:\n{run.stderr[-2000:]}")
    return float(result.read_text().split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="stage processes for the `pobi worker` figure (its default: one per core)")
    parser.add_argument("--json", type=Path, default=Path("bench/results/normalize.json"))
    args = parser.parse_args()
    run, created = f"bench{int(time.time())}", []
    encoded = encode_people(args.events)
    timings: dict[str, tuple[int, float]] = {}
    try:
        plain = namespace(run, "a", created)
        send_encoded(plain, plain.topics.ingest("person"), encoded)
        timings["baseline: plain confluent-kafka consume→produce"] = (args.events, consume_produce_baseline(
            plain, plain.topics.ingest("person"), plain.topics.named("baseline.out"), args.events))
        timings["faust: empty agent, noack_take + ack"] = (args.events, faust_ceiling(
            plain, plain.topics.ingest("person"), args.events))
        timings["pobi normalisation stage, one process"] = pobi_stage(namespace(run, "b", created), encoded, 1)
        timings[f"pobi worker, {args.processes} stage processes"] = pobi_stage(
            namespace(run, "c", created), encoded, args.processes)
    finally:
        remove(created)
    results = {name: {"events_per_second": round(n / s), "events": n, "seconds": round(s, 3)}
               for name, (n, s) in timings.items()}
    add_ratios(results, "baseline: plain confluent-kafka consume→produce")
    write_report(args.json, {"events": args.events, "results": results})
    print(f"| run ({args.events:,} person events) | events/s | seconds | vs baseline |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['events_per_second']:,} | {r['seconds']} | {r['ratio_to_baseline']} |")


if __name__ == "__main__":
    main()
