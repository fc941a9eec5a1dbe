"""Versioned, idempotent migrations: ``migrations/NNN_name.sql`` applied in order, each recorded in
``schema_migrations`` once it ran. Statements use ``{db}`` for the database and end with ``;`` at a line end.
The same files run on Debian's ClickHouse 18.16 and on current ClickHouse (a test runs them on chdb)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MIGRATIONS", "Migration", "apply_migrations", "load_migrations", "statements"]

MIGRATIONS = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self, database: str) -> list[str]:
        return statements(self.sql.replace("{db}", database))


def statements(sql: str) -> list[str]:
    """The statements of a migration file: comments dropped, split at ``;`` ending a line."""
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", text, flags=re.MULTILINE) if s.strip()]


def load_migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"{path}: migrations are named NNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"{folder}: migrations must be numbered 001, 002, … without gaps, found {versions}")
    return found


def apply_migrations(execute: Callable[[str], list[Any]], database: str,
                     migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply what is not yet recorded; returns the migrations applied now. ``execute`` runs one statement
    and returns its rows (clickhouse-driver's ``Client.execute``, or chdb's in the tests)."""
    execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    execute(f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations (version UInt32, name String, "
            "applied_at DateTime) ENGINE = MergeTree ORDER BY version")
    applied = {int(row[0]) for row in execute(f"SELECT version FROM {database}.schema_migrations")}
    done = []
    for migration in migrations or load_migrations():
        if migration.version in applied:
            continue
        for statement in migration.statements(database):
            execute(statement)
        # INSERT … SELECT: clickhouse-driver waits for a data block after INSERT … VALUES
        execute(f"INSERT INTO {database}.schema_migrations (version, name, applied_at) "
                f"SELECT {migration.version}, '{migration.name}', now()")
        done.append(migration)
    return done
