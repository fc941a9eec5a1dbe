"""Publish throughput for a 100,000-row file, beside its baseline measured in the same run.

    .venv/bin/python bench/publish_bench.py [--rows 100000] [--json bench/results/publish.json]

baseline: a plain confluent-kafka producer (same settings: idempotent, acks=all, lz4) sending bytes that
          were encoded before the clock started: the ceiling for producing this many records here.
pobi:     `pobi publish`'s code path on the same rows — read, parse, check, build the envelope, encode,
          produce, wait for every acknowledgement — for a JSON-lines and a CSV file.
Needs the local stack (`pobi stack up`). Topics are private to the run and deleted afterwards.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import orjson
from confluent_kafka.admin import NewTopic

from foundation.settings import load_settings
from pobi.demo.traffic import DemoTraffic
from pobi.publish.files import PublishOptions, publish_input
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope, record_key
from topics.admin import admin_client
from topics.producer import Publisher

sys.path.insert(0, str(Path(__file__).parent))
from common import add_ratios, remove_topics, send_encoded, write_report

SOURCE = SourceRef("public-security", "hukou")


def _baseline(settings, topic: str, rows: list[dict]) -> float:
    codec = Codec()
    schema = codec.registry.latest("person")
    envelopes = [build_envelope(schema, event_id=f"b-{i}", op="r", source=SOURCE, position=f"b:{i}", ts_ms=0,
                                before=None, after=r) for i, r in enumerate(rows)]
    encoded = [(record_key(schema, e), codec.encode_with(schema, e)) for e in envelopes]
    t0 = time.perf_counter()
    send_encoded(settings, topic, encoded)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=Path("bench/results/publish.json"))
    args = parser.parse_args()
    settings = load_settings()
    traffic = DemoTraffic(seed=11, dirty_share=0.05, invalid_share=0.0)
    rows = [traffic.person() for _ in range(args.rows)]
    run = f"bench.{int(time.time())}"
    topics = {name: f"{run}.{name}" for name in ("baseline", "jsonl", "csv", "dlq")}
    admin = admin_client(settings)
    for fut in admin.create_topics([NewTopic(t, 6, 1) for t in topics.values()]).values():
        fut.result(timeout=15)
    results: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            jsonl = Path(tmp) / "people.jsonl"
            jsonl.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
            csv_path = Path(tmp) / "people.csv"
            with csv_path.open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            seconds = _baseline(settings, topics["baseline"], rows)
            results["baseline (pre-encoded bytes)"] = {"events_per_second": round(args.rows / seconds),
                                                       "seconds": round(seconds, 3)}
            for fmt, path in (("jsonl", jsonl), ("csv", csv_path)):
                summary = publish_input(Publisher(settings), path, PublishOptions(
                    dataset="person", fmt=fmt, source=SOURCE, topic=topics[fmt], dlq_topic=topics["dlq"]),
                    show_progress=False)
                assert summary.sent == args.rows, summary.as_dict()
                results[f"pobi publish --format {fmt}"] = {
                    "events_per_second": round(summary.sent / summary.seconds), "seconds": round(summary.seconds, 3),
                    "encode_share": round(summary.encode_seconds / summary.seconds, 3)}
    finally:
        remove_topics(settings, run + ".")
    add_ratios(results, "baseline (pre-encoded bytes)", 2)
    write_report(args.json, {"rows": args.rows, "results": results})
    print(f"| run ({args.rows:,} person rows) | events/s | seconds | encode share | vs baseline |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        share = f"{r['encode_share']:.0%}" if "encode_share" in r else "—"
        print(f"| {name} | {r['events_per_second']:,} | {r['seconds']} | {share} | {r['ratio_to_baseline']} |")


if __name__ == "__main__":
    main()
