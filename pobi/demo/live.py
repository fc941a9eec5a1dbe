"""`pobi demo --duration S --rate R`: steady demo traffic while the stages run, and a live terminal view of
what the hub does with it — events per second per stage, dead letters by reason, deliveries per subscriber,
and ClickHouse's view of it — refreshed every second."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from itertools import cycle
from typing import Any

import redis
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from foundation.connect import redis_client, redis_text
from foundation.settings import Settings
from pobi.demo.traffic import DemoTraffic
from schemas.envelope import SourceRef, build_envelope, event_id_for
from sinks.clickhouse.queries import VIEW_QUERIES
from sinks.clickhouse.writer import ClickHouseWriter
from topics.producer import Publisher

__all__ = ["LiveTraffic", "watch"]


class LiveTraffic:
    """Publishes a mix of the five datasets at ``rate`` events/s on a thread until ``stop``."""

    def __init__(self, settings: Settings, departments: dict[str, SourceRef], rate: int, seed: int) -> None:
        self.settings, self.departments, self.rate = settings, departments, rate
        self.traffic = DemoTraffic(seed=seed)
        self.sent: Counter[str] = Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def _rows(self) -> cycle[Any]:
        start = self.traffic.now()
        batch = list(self.traffic.batch(people=50, enterprises=15, licences=15, cases=10, start=start))
        return cycle(batch)

    def _run(self) -> None:
        rows = self._rows()
        with Publisher(self.settings) as publisher:
            started, n = time.perf_counter(), 0
            while not self.stop.is_set():
                dataset, row = next(rows)
                source = self.departments[dataset]
                position = f"demo-live:{int(started)}:{n}"
                envelope = build_envelope(publisher.codec.registry.latest(dataset), event_id=event_id_for(
                    source, position, repr(row).encode()), op="u", source=source, position=position,
                    ts_ms=int(time.time() * 1000), before=None, after=row)
                publisher.send_event(dataset, envelope, topic=self.settings.topics.ingest(dataset))
                self.sent[dataset] += 1
                n += 1
                delay = started + n / self.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(30)


def _snapshot(settings: Settings, client: redis.Redis, writer: ClickHouseWriter) -> dict[str, Any]:
    prefix = f"{settings.redis_key('ledger')}:normalize:"
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for key in client.scan_iter(prefix + "*"):
        for field, value in client.hgetall(key).items():
            name = redis_text(field)
            if name.startswith("dlq:"):
                reasons[name[4:]] += int(value)
            else:
                counts[name] += int(value)
    db = settings.clickhouse_database
    deliveries = dict((s, n) for s, n, _ in writer.execute(VIEW_QUERIES["deliveries_per_subscriber"]
                                                            .replace("{db}", db)))
    events = dict(writer.execute(VIEW_QUERIES["event_counts"].replace("{db}", db)))
    return {"counts": counts, "reasons": reasons, "deliveries": deliveries, "events": events,
            "at": time.perf_counter()}


def _render(now: dict[str, Any], before: dict[str, Any], sent: int) -> Group:
    seconds = max(1e-6, now["at"] - before["at"])

    def rate(counter: str, key: str) -> str:
        return f"{(now[counter].get(key, 0) - before[counter].get(key, 0)) / seconds:,.0f}/s"

    stages = Table(title="the hub, live (refreshed every second)", title_justify="left")
    for column in ("stage", "total", "now"):
        stages.add_column(column)
    stages.add_row("published (this demo)", f"{sent:,}", "")
    for outcome in ("in", "clean", "duplicate", "dlq"):
        stages.add_row(f"normalize: {outcome}", f"{now['counts'].get(outcome, 0):,}", rate("counts", outcome))
    for subscriber, n in sorted(now["deliveries"].items()):
        stages.add_row(f"delivered to {subscriber}", f"{n:,}", rate("deliveries", subscriber))
    for dataset, n in sorted(now["events"].items()):
        stages.add_row(f"in ClickHouse: {dataset}", f"{n:,}", rate("events", dataset))
    letters = Table(title="dead letters by reason", title_justify="left")
    letters.add_column("reason")
    letters.add_column("letters")
    for reason, n in now["reasons"].most_common(6):
        letters.add_row(reason, f"{n:,}")
    return Group(stages, letters)


def watch(settings: Settings, console: Console, seconds: float, sent: Callable[[], int]) -> None:
    """Show the live view for ``seconds`` (until Ctrl-C when ``seconds`` is 0)."""
    client = redis_client(settings)
    writer = ClickHouseWriter(settings, wait=False)
    before = _snapshot(settings, client, writer)
    deadline = time.perf_counter() + seconds if seconds else float("inf")
    with Live(_render(before, before, sent()), console=console, refresh_per_second=2) as live:
        try:
            while time.perf_counter() < deadline:
                time.sleep(1)
                now = _snapshot(settings, client, writer)
                live.update(_render(now, before, sent()))
                before = now
        except KeyboardInterrupt:
            pass
