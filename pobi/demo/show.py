"""What `pobi demo` prints once the stages have caught up: the ledger, the views, and one person's 360° view,
timeline and data tracker — the answers the hub exists to give."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console

from foundation.clock import CST
from foundation.settings import Settings
from pobi.cli.output import print_table
from pobi.objects import ObjectService
from sinks.clickhouse.queries import VIEW_QUERIES
from sinks.clickhouse.writer import ClickHouseWriter
from streams.ledger import LedgerRow

__all__ = ["show_ledger", "show_one_person", "show_views"]


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, CST).isoformat(timespec="seconds")


def show_ledger(rows: dict[str, LedgerRow]) -> None:
    print_table("ledger: where every event went (`pobi ledger`)",
                ["dataset", "on topic", "clean", "duplicate", "dlq", "dead letters by reason", "status"],
                [(r.dataset, r.on_topic, r.counts["clean"], r.counts["duplicate"], r.counts["dlq"],
                  ", ".join(f"{k} {v}" for k, v in r.dlq_reasons.items()), r.status) for r in rows.values()])


def show_views(settings: Settings) -> None:
    writer = ClickHouseWriter(settings, wait=False, query=True)

    def query(name: str) -> list[Any]:
        return writer.execute(VIEW_QUERIES[name].replace("{db}", settings.clickhouse_database))

    print_table("ClickHouse: clean events per dataset (`stage_tallies_daily`)", ["dataset", "events"],
                query("event_counts"))
    print_table("deliveries per subscriber (`stage_tallies_daily`, from audit.delivery)",
                ["subscriber", "deliveries", "last day"],
                [(s, n, day.isoformat()) for s, n, day in query("deliveries_per_subscriber")])
    print_table("approval cases: days to decision against the limits (`case_timeliness_by_item`)",
                ["item", "department", "decided", "avg days", "≤ promised", "≤ statutory", "≤ ½ statutory", "trips"],
                [(f"{code} {name}", dept, n, f"{days:.1f}", f"{a:.0%}", f"{b:.0%}", f"{c:.0%}", f"{trips:.2f}")
                 for code, name, dept, n, days, a, b, c, trips in query("case_timeliness")])
    print_table("licences (`licence_status`)", ["type", "name", "issuer", "issued", "valid", "expiring ≤ 30 d"],
                query("licence_status"))


def show_one_person(service: ObjectService, person_id: str, console: Console) -> None:
    view = service.object(person_id)
    print_table(f"360° view: person {view['entity_id']} (`pobi object {view['entity_id']}`)",
                ["attribute", "value", "from", "at"],
                [(k, v["value"], v["department"], _when(v["source_ts_ms"])) for k, v in view["attributes"].items()])
    for link in view["related"]:
        console.print(f"related: {link['role']} of {link['type']} {link['id']}")
    print_table("timeline (`pobi timeline`)", ["at", "dataset", "op", "from", "flags"],
                [(_when(e["ts_ms"]), e["dataset"], e["op"], e["department"], ", ".join(e["quality_flags"]))
                 for e in service.timeline(person_id)["events"]])
    print_table("who received this person's data (`pobi tracker`)", ["when", "subscriber", "purpose", "fields"],
                [(_when(d["ts_ms"]), d["subscriber"], d["purpose"], ", ".join(d["fields"]))
                 for d in service.tracker(person_id)["deliveries"]])
