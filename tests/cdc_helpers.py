"""Helpers for change-data-capture tests on the real stack: a department table and a source of a test's own
(its connector, topics, slot and publication in the test's namespace), removed again afterwards."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import psycopg
import yaml

from foundation.errors import PobiError
from foundation.settings import Settings, load_settings
from pobi.demo.traffic import valid_id_number
from pobi.sources import apply_sources, connector_name, remove_connector, wait_running
from pobi.stack.postgres import DEPARTMENT_USER, department_dsn
from schemas.registry import default_registry
from topics.sources import SOURCES_DIR, SourceDefinition, load_source

__all__ = ["cdc_source", "department", "insert", "resident", "table_source"]


def department() -> psycopg.Connection:
    stack = load_settings()
    password = stack.password_path("postgres", DEPARTMENT_USER).read_text().strip()
    return psycopg.connect(department_dsn(stack.postgres_host, stack.postgres_port, password), autocommit=True)


def resident(n: int, county: str = "350102") -> dict[str, object]:
    born = date(1960, 1, 1) + timedelta(days=(37 * n) % 20_000)  # unique with the sequence below 20,000
    return {"gmsfhm": valid_id_number(county, born, n), "xm": f"陈{'志明文华'[n % 4]}{n}", "xbdm": "12"[n % 2],
            "csrq": born, "xzqh": county, "zz": f"福州市鼓楼区湖东路{n}号", "lxdh": f"139{n:08d}"}


def insert(conn: psycopg.Connection, table: str, rows: list[dict[str, object]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO hukou.{table} (gmsfhm, xm, xbdm, csrq, xzqh, zz, lxdh) "
                        "VALUES (%(gmsfhm)s, %(xm)s, %(xbdm)s, %(csrq)s, %(xzqh)s, %(zz)s, %(lxdh)s)", rows)


def table_source(settings: Settings, table: str, folder: Path) -> SourceDefinition:
    """A department table ``hukou.<table>`` like ``hukou.residents``, and the shipped public_security source
    mapping it instead (its password file the stack's own, the definition written to ``folder``)."""
    with department() as conn:
        conn.execute(f"CREATE TABLE hukou.{table} (LIKE hukou.residents INCLUDING ALL)")
    shipped = yaml.safe_load((SOURCES_DIR / "public_security.yaml").read_text())
    shipped["tables"] = {f"hukou.{table}": shipped["tables"]["hukou.residents"]}
    shipped["connection"]["password_file"] = str(load_settings().password_path("postgres", DEPARTMENT_USER))
    path = folder / "public_security.yaml"
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True))
    return load_source(path, default_registry(), settings)


@contextmanager
def cdc_source(settings: Settings, unique: str, folder: Path) -> Iterator[tuple[SourceDefinition, str]]:
    """The shipped public_security source, on a table of this test's own (``hukou.residents_<unique>``),
    applied as a connector in the test's namespace; (the source, the table's name)."""
    table = f"residents_{unique}"
    source = table_source(settings, table, folder)
    try:
        apply_sources(settings, [source], remove_missing=False)
        status = wait_running(settings, source)
        assert status.state == "RUNNING", status
        yield source, table
    finally:
        try:
            remove_connector(settings, connector_name(settings, source.source))
        except PobiError as exc:  # never hide why the test itself failed
            warnings.warn(f"the test's connector was not removed: {exc}", stacklevel=1)
        with department() as conn:
            conn.execute(f"DROP TABLE IF EXISTS hukou.{table}")
