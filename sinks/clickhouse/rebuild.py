"""Rebuilding a derived table from its base table while the sink keeps writing (`pobi views rebuild`).

A derived table holds rows that are a pure function of one base table's rows: ``links_in`` (every link under its
target) of ``links``, ``readings_by_minute`` (every reading under its time) of ``readings``, ``search_tokens``
(the search index) of the names in ``attributes``. A materialized view derives them from every insert into the
base table, in the same INSERT; the sink writes base tables only. When that function
changes — a new tokeniser, a new survivorship rule — the table is rebuilt:

1. note the newest block of the base table (``system.parts``: every row inserted later is in a part whose
   ``max_block_number`` is above that mark);
2. fill a shadow table (``<table>__shadow``, the live table's structure) from the whole base table;
3. compare its row count with the live table's;
4. swap them in one ``RENAME`` (the old table is kept as ``<table>__old`` until the swap is done); the
   materialized view writes to the table of that name from then on; while the name is briefly absent the
   sink waits, it does not dead-letter anything;
5. catch up: derive again the base rows of every part above the mark. A row the sink wrote during the rebuild is
   thus either derived by the view into the new table (written after the swap) or by this step (written before
   the swap, so its part is above the mark); deriving a row twice is harmless, the derived tables are
   ReplacingMergeTrees keyed by the whole derived row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["DERIVED", "Derived", "RebuildReport", "rebuild"]

Execute = Callable[[str], list[Any]]
Progress = Callable[[str, int, int], None]  # (step, rows read, rows to read)


@dataclass(frozen=True)
class Derived:
    table: str
    base: str
    select: str  # the derived rows of ``{source}``, in the table's column order


# the same SELECTs as the materialized views that derive these tables on every insert (migrations 004, 006,
# 007; a test holds them equal)
DERIVED: dict[str, Derived] = {d.table: d for d in (
    Derived("links_in", "links", """
        SELECT from_type, from_id, role, to_type, to_id, department, source_ts_ms, event_id
        FROM {source}"""),
    Derived("readings_by_minute", "readings", """
        SELECT sensor_id, station_id, division_code, metric, value, unit, measured_ms, measured_at, event_id,
               quality_flags
        FROM {source}"""),
    Derived("search_tokens", "attributes", """
        SELECT token, entity_type, entity_id, attribute, value, source_ts_ms
        FROM {source}
        ARRAY JOIN arrayConcat(arraySlice(extractAll(lower(value), '.'), 1, 32),
                               arrayMap((a, b) -> concat(a, b),
                                        arrayPopBack(arraySlice(extractAll(lower(value), '.'), 1, 32)),
                                        arrayPopFront(arraySlice(extractAll(lower(value), '.'), 1, 32)))) AS token
        WHERE attribute IN ('name', 'legal_rep_name', 'holder_name', 'licence_name', 'item_name')"""),
)}


@dataclass
class RebuildReport:
    table: str
    live_rows: int
    shadow_rows: int
    caught_up_parts: int
    swapped: bool


def _newest_block(execute: Execute, database: str, table: str) -> int:
    [(block,)] = execute(f"SELECT max(max_block_number) FROM system.parts WHERE database = '{database}' "
                         f"AND table = '{table}' AND active")
    return int(block)


def _parts_above(execute: Execute, database: str, table: str, mark: int) -> list[str]:
    return [name for (name,) in execute(f"SELECT name FROM system.parts WHERE database = '{database}' "
                                        f"AND table = '{table}' AND active AND max_block_number > {mark}")]


def _rows(execute: Execute, table: str) -> int:
    [(rows,)] = execute(f"SELECT count() FROM {table}")
    return int(rows)


def rebuild(execute: Execute, database: str, derived: Derived, *, swap: bool = True,
            fill: Callable[[str], Iterator[tuple[int, int]]] | None = None,
            progress: Progress = lambda _step, _done, _total: None) -> RebuildReport:
    """Rebuild one derived table (steps in the module's docstring). ``fill`` runs an INSERT … SELECT and yields
    (rows read, rows to read) as it goes — clickhouse-driver's ``execute_with_progress`` — for the progress
    shown; without it the insert runs through ``execute``. ``swap=False`` stops after the comparison and drops
    the shadow."""
    live, shadow, old = (f"{database}.{derived.table}{suffix}" for suffix in ("", "__shadow", "__old"))
    base = f"{database}.{derived.base}"
    execute(f"DROP TABLE IF EXISTS {shadow}")
    execute(f"CREATE TABLE {shadow} AS {live}")
    mark = _newest_block(execute, database, derived.base)
    insert = f"INSERT INTO {shadow} {derived.select.format(source=base)}"
    if fill is None:
        execute(insert)
    else:
        for done, total in fill(insert):
            progress("fill", done, total)
    report = RebuildReport(derived.table, _rows(execute, live), _rows(execute, shadow), 0, False)
    if not swap:
        execute(f"DROP TABLE {shadow}")
        return report
    execute(f"DROP TABLE IF EXISTS {old}")
    execute(f"RENAME TABLE {live} TO {old}, {shadow} TO {live}")
    parts = _parts_above(execute, database, derived.base, mark)
    if parts:
        names = ", ".join(f"'{name}'" for name in parts)
        recent = f"(SELECT * FROM {base} WHERE _part IN ({names}))"
        execute(f"INSERT INTO {live} {derived.select.format(source=recent)}")
    execute(f"DROP TABLE {old}")
    report.caught_up_parts, report.swapped = len(parts), True
    return report
