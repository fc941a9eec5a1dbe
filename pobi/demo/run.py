"""`pobi demo`: the main job on the local stack, end to end as far as pobi goes today.

Starts the stack, applies the topic catalogue, publishes a day of Fujian demo traffic — one department
export as a CSV file through the adapter (with a broken line), the rest through the publisher client,
plus repeats of a few events — runs the normalisation stage until it has caught up, and shows what landed
where: the ledger per dataset, the dead letters by reason, and one cleaned record.
"""

from __future__ import annotations

import csv
import threading
import time
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from rich.console import Console

from pobi.cli.output import print_table
from pobi.demo.traffic import DemoTraffic
from pobi.kafka import client_config
from pobi.publish.envelope import SourceRef, build_envelope, event_id_for
from pobi.publish.files import PublishOptions, publish_input
from pobi.publish.producer import Publisher
from pobi.settings import Settings
from pobi.stack.manager import Stack
from schemas.codec import Codec
from streams.ledger import LedgerRow, wait_until_idle
from streams.stages.spec import StageSpec, run_copies
from topics.admin import admin_client, apply_catalogue, record_counts
from topics.catalogue import load_catalogue

__all__ = ["run_demo"]

DEPARTMENTS = {"person": SourceRef("public-security", "hukou"), "enterprise": SourceRef("market-regulation", "aic"),
               "licence": SourceRef("licence-issuers", "e-licence"),
               "approval_case": SourceRef("online-service-hall", "wsbs"),
               "sensor_reading": SourceRef("environment-monitoring", "aqms")}
PERSON_HEADERS = {"id_number": "公民身份号码", "name": "姓名", "gender": "性别", "birth_date": "出生日期",
                  "division_code": "行政区划代码", "address": "住址", "phone": "联系电话"}


def _write_person_export(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:  # departments' exports often carry a BOM
        writer = csv.writer(f)
        writer.writerow(PERSON_HEADERS.values())
        for i, row in enumerate(rows):
            writer.writerow([row.get(k) or "" for k in PERSON_HEADERS])
            if i == len(rows) // 2:
                f.write("350102199003071234,陈志明,1,1990-03-07\n")  # a truncated line, as exports have


def run_demo(settings: Settings, console: Console, scale: int = 1, duplicate_share: float = 0.02) -> dict:
    console.rule("[bold]pobi demo")
    Stack(settings).up(report=console.print)
    report = apply_catalogue(admin_client(settings.kafka_bootstrap), load_catalogue())
    managed = [s for s in report.states if s.in_catalogue]
    console.print(f"topics: {len(report.created)} created, {len(managed)} in the catalogue, "
                  f"{len(report.drifted)} with drift")

    traffic = DemoTraffic()
    started = traffic.now()
    events = list(traffic.batch(people=200 * scale, enterprises=60 * scale, licences=60 * scale, cases=40 * scale,
                                start=started))
    people = [row for ds, row in events if ds == "person"]
    others = [(ds, row) for ds, row in events if ds != "person"]

    work = settings.stack_path / "demo"
    work.mkdir(parents=True, exist_ok=True)
    export = work / f"hukou-export-{started:%Y%m%d}.csv"
    _write_person_export(export, people)

    t0 = time.perf_counter()
    publisher = Publisher(settings)
    summary = publish_input(publisher, export, PublishOptions(dataset="person", fmt="csv",
                                                              source=DEPARTMENTS["person"]), show_progress=False)
    sent: Counter[str] = Counter({"person": summary.sent})
    repeats = 0
    for seq, (dataset, row) in enumerate(others):
        schema = publisher.codec.registry.latest(dataset)
        position = f"demo:{started:%Y%m%d}:{seq}"
        envelope = build_envelope(schema, event_id=event_id_for(DEPARTMENTS[dataset], position, repr(row).encode()),
                                  op="c", source=DEPARTMENTS[dataset], position=position,
                                  ts_ms=int(time.time() * 1000), before=None, after=row)
        publisher.send_event(dataset, envelope)
        sent[dataset] += 1
        if traffic.rng.random() < duplicate_share:  # a department's retry: same event, same id
            publisher.send_event(dataset, envelope)
            sent[dataset] += 1
            repeats += 1
    publisher.flush()
    seconds = time.perf_counter() - t0

    console.print(f"published {sum(sent.values())} events in {seconds:.2f}s ({repeats} deliberate repeats); "
                  f"the CSV export had {summary.rejected} broken line(s), sent to dlq.ingest "
                  f"({', '.join(summary.reasons)})")
    names = [f"ingest.{d}" for d in DEPARTMENTS] + ["dlq.ingest"]
    counts = record_counts(settings.kafka_bootstrap, names)
    print_table("what is on the hub now (records per topic, all runs)", ["topic", "records", "sent by this run"],
                [(n, counts[n], sent.get(n.split(".", 1)[1], summary.rejected if n == "dlq.ingest" else 0))
                 for n in names])
    ledger = _normalise(settings, console)
    _show_one_clean_person(settings, console)
    print_table("local stack", ["service", "state", "address"],
                [(s.name, s.state, s.address) for s in Stack(settings).status()])
    console.print("next: `pobi ledger`, `pobi dlq list --reason id_number`, `pobi dlq replay --dry-run`, "
                  "`pobi worker` (runs the stages until Ctrl-C), `pobi publish FILE …`; "
                  "`pobi stack down` stops the services.")
    return {"sent": dict(sent), "rejected": summary.rejected, "repeats": repeats, "counts": counts,
            "ledger": {d: r.as_dict() for d, r in ledger.items()}}


def _normalise(settings: Settings, console: Console) -> dict[str, LedgerRow]:
    """Run the normalisation stage, as `pobi worker` does, until every published event is accounted for."""
    stop = threading.Event()
    worker = threading.Thread(target=run_copies, args=(StageSpec.of("normalize", settings), 1, stop), daemon=True)
    t0 = time.perf_counter()
    worker.start()
    try:
        rows = wait_until_idle(settings, timeout_s=120)
    finally:
        stop.set()
        worker.join(60)
    console.print(f"normalised in {time.perf_counter() - t0:.1f}s (all runs' events are on the ledger)")
    print_table("ledger: where every event went (`pobi ledger`)",
                ["dataset", "on topic", "clean", "duplicate", "dlq", "dead letters by reason", "status"],
                [(r.dataset, r.on_topic, r.counts["clean"], r.counts["duplicate"], r.counts["dlq"],
                  ", ".join(f"{k} {v}" for k, v in r.dlq_reasons.items()), r.status) for r in rows.values()])
    return rows


def _show_one_clean_person(settings: Settings, console: Console) -> None:
    """The newest clean person record that needed cleaning, with its flags and derived values."""
    consumer = Consumer(client_config(settings.kafka_bootstrap, **{"group.id": "pobi-demo-peek",
                                                                   "enable.auto.commit": False}))
    codec = Codec()
    try:
        topic = settings.topic("norm.person")
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        starts = []
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            starts.append(TopicPartition(topic, p, max(low, high - 200)))
        consumer.assign(starts)
        best = None
        for message in consumer.consume(1000, 3.0):
            if message.error() is None:
                event = codec.decode(message.value())[1]
                if event["quality_flags"] or best is None:
                    best = event
    finally:
        consumer.close()
    if best is None:
        return
    row = best["after"]
    print_table(f"one clean person record ({best['source']['department']}, {best['source']['position']})",
                ["field", "value"],
                [*((k, v) for k, v in row.items()),
                 ("entity", f"{best['entity']['type']} {best['entity']['id']}"),
                 *((f"derived {k}", v) for k, v in best["enrichment"].items()),
                 *((f"flag {f['code']}", f["message"]) for f in best["quality_flags"])])
