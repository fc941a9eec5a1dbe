"""The demo's department database: residents inserted, updated and deleted in PostgreSQL
(``hukou.residents``), which Debezium and the CDC stage carry into the hub beside the file and client
traffic — and how long each took to show in the 360° view after its commit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import psycopg
from rich.console import Console

from foundation.errors import PobiError
from foundation.settings import Settings
from pobi.demo.traffic import DemoTraffic
from pobi.objects import ObjectService
from pobi.sources import apply_sources, wait_running
from pobi.stack.postgres import DEPARTMENT_USER, department_dsn
from schemas.registry import default_registry
from topics.sources import SOURCES_DIR, load_source

__all__ = ["DepartmentChanges", "apply_demo_source", "change_residents", "wait_visible"]

INSERTS, UPDATES, DELETES = 20, 5, 2
_GENDER_CODES = {"男": "1", "女": "2", "1": "1", "2": "2"}


@dataclass
class DepartmentChanges:
    inserted: list[str]
    updated: dict[str, str]  # id number → the new address
    deleted: list[str]
    committed_ms: int  # when the last change was committed


def _iso_date(text: object) -> date | None:
    """A DATE column takes only a date: the demo's dirty spellings (1983年3月8日) are left empty there."""
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return None


def apply_demo_source(settings: Settings, console: Console) -> None:
    source = load_source(SOURCES_DIR / "public_security.yaml", default_registry(), settings)
    result = apply_sources(settings, [source], remove_missing=False)
    status = wait_running(settings, source)
    console.print(f"sources: {source.source} ({len(result.created)} created, {len(result.unchanged)} unchanged); "
                  f"its Debezium connector is {status.state}")


def change_residents(settings: Settings, traffic: DemoTraffic) -> DepartmentChanges:
    """Insert, update and delete residents as the household register's own application would."""
    password = settings.password_path("postgres", DEPARTMENT_USER).read_text().strip()
    people = [traffic.person() for _ in range(INSERTS)]
    rows = [{"gmsfhm": p["id_number"], "xm": p["name"], "xbdm": _GENDER_CODES.get(str(p["gender"]), "9"),
             "csrq": _iso_date(p["birth_date"]), "xzqh": p["division_code"], "zz": p["address"], "lxdh": p["phone"]}
            for p in people]
    updated = {str(r["gmsfhm"]): f"福州市鼓楼区五一北路{n + 1}号" for n, r in enumerate(rows[:UPDATES])}
    deleted = [str(r["gmsfhm"]) for r in rows[UPDATES:UPDATES + DELETES]]
    try:
        with psycopg.connect(department_dsn(settings.postgres_host, settings.postgres_port, password),
                             autocommit=True) as conn:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany("INSERT INTO hukou.residents (gmsfhm, xm, xbdm, csrq, xzqh, zz, lxdh) VALUES "
                                "(%(gmsfhm)s, %(xm)s, %(xbdm)s, %(csrq)s, %(xzqh)s, %(zz)s, %(lxdh)s) "
                                "ON CONFLICT (gmsfhm) DO NOTHING", rows)
            for gmsfhm, address in updated.items():
                conn.execute("UPDATE hukou.residents SET zz = %s, gxsj = now() WHERE gmsfhm = %s", (address, gmsfhm))
            for gmsfhm in deleted:
                conn.execute("DELETE FROM hukou.residents WHERE gmsfhm = %s", (gmsfhm,))
    except psycopg.Error as exc:
        raise PobiError(f"the demo's department database refused a change: {exc}".splitlines()[0]) from None
    return DepartmentChanges([str(r["gmsfhm"]) for r in rows], updated, deleted, int(time.time() * 1000))


def wait_visible(service: ObjectService, changes: DepartmentChanges, timeout_s: float = 60.0) -> float | None:
    """Seconds from the last commit until every update shows in the 360° view; None if not within the time."""
    deadline = time.monotonic() + timeout_s
    pending = dict(changes.updated)
    while pending and time.monotonic() < deadline:
        for gmsfhm, address in list(pending.items()):
            try:
                if service.object(gmsfhm)["attributes"].get("address", {}).get("value") == address:
                    del pending[gmsfhm]
            except PobiError:
                pass
        if pending:
            time.sleep(0.2)
    return None if pending else time.time() - changes.committed_ms / 1000
