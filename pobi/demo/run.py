"""`pobi demo`: the main job on the local stack, end to end as far as pobi goes today.

Starts the stack, applies the topic catalogue, the contracts and the example CDC source, publishes a day of
Fujian demo traffic — one department export as a CSV file through the adapter (with a broken line), the
approval cases over HTTP through the ingest gateway (a tenth of them sent twice), the rest through the
publisher client with repeats of a few events, and residents inserted, updated and deleted in the
department's PostgreSQL database — runs the stages until they have caught up, and shows what landed where:
the ledger per dataset, the dead letters by reason, and one cleaned record.
"""

from __future__ import annotations

import csv
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from foundation.errors import PobiError
from foundation.settings import Settings
from pobi.cli.output import print_table
from pobi.demo.department import DELETES, INSERTS, UPDATES, apply_demo_source, change_residents, wait_visible
from pobi.demo.http import post_over_http
from pobi.demo.live import LiveTraffic, watch
from pobi.demo.show import show_ledger, show_one_person, show_views
from pobi.demo.traffic import DemoTraffic
from pobi.objects import object_service
from pobi.publish.files import PublishOptions, PublishSummary, publish_input
from pobi.stack.manager import Stack
from pobi.worker.spec import StageSpec, run_copies
from schemas.envelope import SourceRef, build_envelope, event_id_for
from schemas.registry import default_registry
from sinks.clickhouse.migrate import apply_migrations
from sinks.clickhouse.writer import ClickHouseWriter
from streams.ledger import LedgerRow, wait_until_idle
from topics.admin import admin_client, apply_catalogue, record_counts, wait_for_group
from topics.producer import Publisher
from topics.subscriptions import CONTRACTS_DIR, apply_contracts, deployment_catalogue, load_contracts

__all__ = ["run_demo"]

DEPARTMENTS = {"person": SourceRef("public-security", "hukou"), "enterprise": SourceRef("market-regulation", "aic"),
               "licence": SourceRef("licence-issuers", "e-licence"),
               "approval_case": SourceRef("online-service-hall", "wsbs"),
               "sensor_reading": SourceRef("environment-monitoring", "aqms")}
PERSON_HEADERS = {"id_number": "公民身份号码", "name": "姓名", "gender": "性别", "birth_date": "出生日期",
                  "division_code": "行政区划代码", "address": "住址", "phone": "联系电话"}


def _write_person_export(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:  # departments' exports often carry a BOM
        writer = csv.writer(f)
        writer.writerow(PERSON_HEADERS.values())
        for i, row in enumerate(rows):
            writer.writerow([row.get(k) or "" for k in PERSON_HEADERS])
            if i == len(rows) // 2:
                f.write("350102199003071234,陈志明,1,1990-03-07\n")  # a truncated line, as exports have


def traffic_day() -> date:
    return DemoTraffic.now().date()


def run_demo(settings: Settings, console: Console, scale: int = 1, duplicate_share: float = 0.02, *,
             duration: float = 0, rate: int = 200, keep_running: bool = False) -> dict[str, Any]:
    """The whole story. ``duration``: seconds of steady traffic at ``rate`` events/s with a live view after the
    day's batch; ``keep_running``: leave the stages running (live view) until Ctrl-C."""
    console.rule("[bold]pobi demo")
    Stack(settings).up(report=console.print)
    contracts, problems = load_contracts(CONTRACTS_DIR, default_registry(), traffic_day())
    if problems:
        raise PobiError("; ".join(problems))
    report = apply_catalogue(admin_client(settings), deployment_catalogue(settings))
    managed = [s for s in report.states if s.in_catalogue]
    console.print(f"topics: {len(report.created)} created, {len(managed)} in the catalogue, "
                  f"{len(report.drifted)} with drift")
    writer = ClickHouseWriter(settings, wait=False)
    applied = apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)
    console.print(f"ClickHouse: {len(applied)} migration(s) applied to {settings.clickhouse_database}")
    result = apply_contracts(settings, contracts, default_registry(), withdraw_missing=False)
    console.print(f"contracts: {', '.join(c.subscriber for c in contracts)} "
                  f"({len(result.published)} published, {len(result.unchanged)} unchanged)")
    apply_demo_source(settings, console)

    stages = _Stages(settings)
    try:
        sent, summary, repeats, counts = _publish_day(settings, console, scale, duplicate_share)
        changes = change_residents(settings, DemoTraffic(seed=int(time.time())))
        console.print(f"department database: {INSERTS} residents inserted, {UPDATES} updated and {DELETES} deleted "
                      "in hukou.residents (PostgreSQL); Debezium and the CDC stage carry them in")
        if duration or keep_running:
            live = LiveTraffic(settings, DEPARTMENTS, rate, seed=int(time.time())) if duration else None
            if live:
                live.start()
                console.print(f"steady traffic: {rate} events/s for {duration:.0f}s (Ctrl-C ends it early)")
                watch(settings, console, duration, lambda: sum(live.sent.values()))
                live.finish()
                sent.update(live.sent)
            if keep_running:
                console.print("the stages keep running; Ctrl-C stops them")
                watch(settings, console, 0, lambda: sum(sent.values()))
        ledger = _settle(settings, console)
        visible = wait_visible(object_service(settings), changes)
        console.print("the database's updates were in the 360° view " + (
            f"{visible:.1f}s after their commit" if visible is not None
            else "not within 60 s: see `pobi sources status`"))
    finally:
        stages.stop()
    show_ledger(ledger)
    show_views(settings)
    person = _a_tracked_person(settings)
    if person:
        show_one_person(object_service(settings), person, console)
    show_one_person(object_service(settings), next(iter(changes.updated)), console)
    print_table("local stack", ["service", "state", "address"],
                [(s.name, s.state, s.address) for s in Stack(settings).status()])
    console.print("next: `pobi worker` (runs every stage until Ctrl-C; object API on 127.0.0.1:"
                  f"{settings.api_port}, the console at http://127.0.0.1:{settings.api_port}/console/), "
                  "`pobi ledger`, `pobi dlq list`, `pobi subscribe fuzhou-city --max 5`, "
                  "`pobi search 陈`, `docker compose up` for Grafana; `pobi stack down` stops the services.",
                  soft_wrap=True)
    return {"sent": dict(sent), "rejected": summary.rejected, "repeats": repeats, "counts": counts,
            "ledger": {d: r.as_dict() for d, r in ledger.items()}}


def _publish_day(settings: Settings, console: Console, scale: int,
                 duplicate_share: float) -> tuple[Counter[str], PublishSummary, int, dict[str, int]]:
    """A day of Fujian traffic: one department's CSV export through the adapter, the rest through the client."""
    traffic = DemoTraffic()
    started = traffic.now()
    events = list(traffic.batch(people=200 * scale, enterprises=60 * scale, licences=60 * scale, cases=40 * scale,
                                start=started))
    people = [row for ds, row in events if ds == "person"]
    cases = [row for ds, row in events if ds == "approval_case"]
    others = [(ds, row) for ds, row in events if ds not in ("person", "approval_case")]

    work = settings.stack_path / "demo"
    work.mkdir(parents=True, exist_ok=True)
    export = work / f"hukou-export-{started:%Y%m%d}.csv"
    _write_person_export(export, people)

    t0 = time.perf_counter()
    publisher = Publisher(settings)
    options = PublishOptions(dataset="person", fmt="csv", source=DEPARTMENTS["person"],
                             topic=settings.topics.ingest("person"), dlq_topic=settings.topics.dlq("ingest"))
    summary = publish_input(publisher, export, options, show_progress=False)
    sent: Counter[str] = Counter({"person": summary.sent})
    repeats = 0
    for seq, (dataset, row) in enumerate(others):
        schema = publisher.codec.registry.latest(dataset)
        position = f"demo:{started:%Y%m%d}:{seq}"
        envelope = build_envelope(schema, event_id=event_id_for(DEPARTMENTS[dataset], position, repr(row).encode()),
                                  op="c", source=DEPARTMENTS[dataset], position=position,
                                  ts_ms=int(time.time() * 1000), before=None, after=row)
        publisher.send_event(dataset, envelope, settings.topics.ingest(dataset))
        sent[dataset] += 1
        if traffic.rng.random() < duplicate_share:  # a department's retry: same event, same id
            publisher.send_event(dataset, envelope, settings.topics.ingest(dataset))
            sent[dataset] += 1
            repeats += 1
    publisher.flush()
    over_http = post_over_http(settings, "approval_case", cases, DEPARTMENTS["approval_case"])
    sent["approval_case"] += over_http["accepted"]
    seconds = time.perf_counter() - t0

    console.print(f"published {sum(sent.values())} events in {seconds:.2f}s ({repeats} deliberate repeats); "
                  f"the CSV export had {summary.rejected} broken line(s), sent to dlq.ingest "
                  f"({', '.join(summary.reasons)})")
    console.print(f"the online service hall's system posted {len(cases)} approval cases to the HTTP gateway and "
                  f"re-sent a tenth of them: {over_http['accepted']} accepted, {over_http['duplicate']} answered as "
                  f"duplicates, {over_http['rejected']} rejected", soft_wrap=True)
    topics = {settings.topics.ingest(d): d for d in DEPARTMENTS}
    dlq = settings.topics.dlq("ingest")
    counts = record_counts(settings, [*topics, dlq])
    print_table("what is on the hub now (records per topic, all runs)", ["topic", "records", "sent by this run"],
                [(n, counts[n], sent.get(topics.get(n, ""), summary.rejected if n == dlq else 0))
                 for n in [*topics, dlq]])
    return sent, summary, repeats, counts


STAGES = ("cdc", "normalize", "fanout", "sink")  # the webhook stage is left out: the example receiver does not exist


class _Stages:
    """The stages as `pobi worker` runs them, on threads of this process."""

    def __init__(self, settings: Settings) -> None:
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=run_copies, args=(StageSpec.of(name, settings), 1, self._stop),
                                          name=f"demo-{name}", daemon=True) for name in STAGES]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)  # each closes its consumer, committing what it stored


def _settle(settings: Settings, console: Console) -> dict[str, LedgerRow]:
    """Wait until every published event is normalised, fanned out and in ClickHouse."""
    from sinks.clickhouse.stage import SinkStage

    t0 = time.perf_counter()
    ledger = wait_until_idle(settings, timeout_s=180)
    wait_for_group(settings, settings.topics.group("fanout"),
                   [settings.topics.norm(d) for d in ledger], 180)
    wait_for_group(settings, settings.topics.group("sink"), SinkStage.topics_for(settings), 180)
    console.print(f"every event normalised, fanned out and in ClickHouse ({time.perf_counter() - t0:.1f}s after "
                  "the last one was published)")
    return ledger


def _a_tracked_person(settings: Settings) -> str | None:
    """A person who is an enterprise's legal representative and whose data a subscriber received."""
    db = settings.clickhouse_database
    rows = ClickHouseWriter(settings, wait=False, query=True).execute(
        f"SELECT d.entity_id FROM {db}.deliveries AS d ANY INNER JOIN "
        f"(SELECT to_id AS entity_id FROM {db}.links WHERE role = 'legal_representative') AS l USING entity_id "
        "WHERE d.entity_type = 'person' LIMIT 1")
    return rows[0][0] if rows else None
