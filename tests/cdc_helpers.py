"""Helpers for change-data-capture tests on the real stack: a department table and a source of a test's own
(its connector, topics, slot and publication in the test's namespace), removed again afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import psycopg
import yaml

from foundation.settings import Settings, load_settings
from pobi.demo.traffic import valid_id_number
from pobi.sources import ConnectApi, _slot, apply_sources, connector_name, wait_running
from pobi.stack.postgres import DEPARTMENT_USER, department_dsn
from schemas.registry import default_registry
from topics.sources import SOURCES_DIR, SourceDefinition, load_source

__all__ = ["cdc_source", "department", "insert", "resident"]


def department() -> psycopg.Connection:
    stack = load_settings()
    password = stack.password_path("postgres", DEPARTMENT_USER).read_text().strip()
    return psycopg.connect(department_dsn(stack.postgres_host, stack.postgres_port, password), autocommit=True)


def resident(n: int, county: str = "350102") -> dict[str, object]:
    born = date(1960, 1, 1) + timedelta(days=(37 * n) % 20_000)  # unique with the sequence below 20,000
    return {"gmsfhm": valid_id_number(county, born, n), "xm": f"陈{'志明文华'[n % 4]}{n}", "xbdm": "12"[n % 2],
            "csrq": born, "xzqh": county, "zz": f"福州市鼓楼区湖东路{n}号", "lxdh": f"1390591{n:04d}"}


def insert(conn: psycopg.Connection, table: str, rows: list[dict[str, object]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO hukou.{table} (gmsfhm, xm, xbdm, csrq, xzqh, zz, lxdh) "
                        "VALUES (%(gmsfhm)s, %(xm)s, %(xbdm)s, %(csrq)s, %(xzqh)s, %(zz)s, %(lxdh)s)", rows)


@contextmanager
def cdc_source(settings: Settings, unique: str, folder: Path) -> Iterator[tuple[SourceDefinition, str]]:
    """The shipped public_security source, on a table of this test's own (``hukou.residents_<unique>``),
    applied as a connector in the test's namespace; (the source, the table's name)."""
    table = f"residents_{unique}"
    with department() as conn:
        conn.execute(f"CREATE TABLE hukou.{table} (LIKE hukou.residents INCLUDING ALL)")
    shipped = yaml.safe_load((SOURCES_DIR / "public_security.yaml").read_text())
    shipped["tables"] = {f"hukou.{table}": shipped["tables"]["hukou.residents"]}
    shipped["connection"]["password_file"] = str(load_settings().password_path("postgres", DEPARTMENT_USER))
    path = folder / "public_security.yaml"
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True))
    source = load_source(path, default_registry(), settings)
    try:
        apply_sources(settings, [source], remove_missing=False)
        status = wait_running(settings, source)
        assert status.state == "RUNNING", status
        yield source, table
    finally:
        ConnectApi(settings.connect_url).delete(connector_name(settings, source.source))
        _drop_slot(settings, source, table)


def _drop_slot(settings: Settings, source: SourceDefinition, table: str) -> None:
    """The connector's replication slot and publication, once the deleted connector let go of the slot (a
    slot nobody reads keeps the department's WAL forever)."""
    slot = _slot(settings, source.source)
    with department() as conn:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
            if row is None:
                break
            if not row[0]:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                break
            time.sleep(0.5)
        conn.execute(f'DROP PUBLICATION IF EXISTS "{slot}"')
        conn.execute(f"DROP TABLE IF EXISTS hukou.{table}")
