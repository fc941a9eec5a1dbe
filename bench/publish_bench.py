"""Publish throughput for a 100,000-row file, and the HTTP gateway's, beside their baseline measured in the
same run.

    .venv/bin/python bench/publish_bench.py [--rows 100000] [--batch 1000] [--clients 4]
                                            [--json bench/results/publish.json]

baseline: a plain confluent-kafka producer (same settings: idempotent, acks=all, lz4) sending bytes that
          were encoded before the clock started: the ceiling for producing this many records here.
pobi:     `pobi publish`'s code path on the same rows — read, parse, check, build the envelope, encode,
          produce, wait for every acknowledgement — for a JSON-lines and a CSV file.
gateway:  `pobi gateway` in its own process; ``--clients`` HTTP clients each POST batches of ``--batch`` rows
          (a JSON array) and wait for the answer, which comes after Kafka's acknowledgement. Events/s over the
          whole run, and the request time p50 / p99 as the clients saw it.
Needs the local stack (`pobi stack up`). Topics are private to the run and deleted afterwards.
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
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


def _gateway(settings, rows: list[dict], batch: int, clients: int, namespace: str) -> dict:
    """The rows through a real `pobi gateway` process, ``clients`` at a time."""
    from foundation.connect import redis_client

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "POBI_NAMESPACE": namespace, "POBI_GATEWAY_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-c", "from pobi.cli import main; main()", "gateway"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1/datasets/person/events"
    headers = {"X-Pobi-Department": "public-security", "X-Pobi-System": "hukou"}
    bodies = [orjson.dumps(rows[i:i + batch]) for i in range(0, len(rows), batch)]
    seconds_per_request: list[float] = []
    accepted: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the gateway did not start")
            time.sleep(0.2)
        queue = list(reversed(bodies))
        lock = threading.Lock()

        def client() -> None:
            with httpx.Client(timeout=60) as http:
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop()
                    t0 = time.perf_counter()
                    answer = http.post(url, content=body, headers=headers)
                    seconds_per_request.append(time.perf_counter() - t0)
                    assert answer.status_code == 200, answer.text
                    accepted.append(answer.json()["accepted"])

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
        client_redis = redis_client(settings)
        keys = list(client_redis.scan_iter(f"pobi:{namespace}:*", count=10_000))
        for start in range(0, len(keys), 10_000):
            client_redis.delete(*keys[start:start + 10_000])
    assert sum(accepted) == len(rows), f"accepted {sum(accepted)} of {len(rows)}"
    ordered = sorted(seconds_per_request)
    return {"events_per_second": round(len(rows) / seconds), "seconds": round(seconds, 3),
            "request_p50_ms": round(statistics.median(ordered) * 1000, 1),
            "request_p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="rows per gateway request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent gateway clients")
    parser.add_argument("--json", type=Path, default=Path("bench/results/publish.json"))
    args = parser.parse_args()
    settings = load_settings()
    traffic = DemoTraffic(seed=11, dirty_share=0.05, invalid_share=0.0)
    rows = [traffic.person() for _ in range(args.rows)]
    run = f"bench{int(time.time())}"  # also the gateway's namespace: its topics are <run>.ingest.person…
    topics = {name: f"{run}.{name}" for name in ("baseline", "jsonl", "csv", "dlq", "ingest.person", "dlq.ingest")}
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
            results[f"pobi gateway, {args.clients} clients × {args.batch}-row requests"] = _gateway(
                settings, rows, args.batch, args.clients, run)
    finally:
        remove_topics(settings, run + ".")
    add_ratios(results, "baseline (pre-encoded bytes)", 2)
    write_report(args.json, {"rows": args.rows, "results": results})
    print(f"| run ({args.rows:,} person rows) | events/s | seconds | encode share | request p50 / p99 | vs baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        share = f"{r['encode_share']:.0%}" if "encode_share" in r else "—"
        request = f"{r['request_p50_ms']} / {r['request_p99_ms']} ms" if "request_p50_ms" in r else "—"
        print(f"| {name} | {r['events_per_second']:,} | {r['seconds']} | {share} | {request} "
              f"| {r['ratio_to_baseline']} |")


if __name__ == "__main__":
    main()
