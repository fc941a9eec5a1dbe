"""A department's row change, mapped onto a pobi dataset: the table decides the dataset, the source's column
mapping names the fields, and the source position decides the event id. Pure.

The event id is derived from where the change is in the database's log (connector, database, table, LSN and
transaction, or binlog file, position and row) and the row's key — not from the record's bytes — so a change
Debezium delivers again after a Connect restart (same position, new ``payload.ts_ms``) has the same id and
the hub counts it as a duplicate; rows of one snapshot, which share one position, differ by their key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from schemas.envelope import SourceRef, change_event_id
from schemas.registry import SchemaRegistry, WireSchema
from schemas.rows import RowError, check_row, coerce_text_row
from streams.cdc.debezium import RowChange, column_value
from topics.sources import SourceDefinition, TableMapping

__all__ = ["MappedChange", "map_change"]


@dataclass(frozen=True)
class MappedChange:
    dataset: str
    op: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ts_ms: int
    position: str
    event_id: str


def _text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()  # a JSON or array column: kept as its JSON text


def _mapped_row(mapping: TableMapping, row: dict[str, Any], change: RowChange, schema: WireSchema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, value in row.items():
        spec = mapping.field_of(column)
        if spec is None:
            if column in mapping.ignore:
                continue
            raise RowError("cdc.unmapped_column", f"column {column} of {change.table} is neither mapped nor "
                           "ignored in the source definition (a new column? map it or add it to ignore)")
        try:
            converted = column_value(value, change.logical_types.get(column), spec.type,
                                     change.decimal_scales.get(column))
        except (ValueError, TypeError, OverflowError) as exc:
            raise RowError("value.type", f"column {column}: {str(exc)[:120]}") from None
        if spec.values is not None and converted is not None:
            text = str(converted).strip()
            converted = spec.values.get(text, converted)
        out[spec.field] = _text(converted)
    return check_row(schema, coerce_text_row(schema, out))


def _key_only(row: dict[str, Any], schema: WireSchema) -> bool:
    """A ``before`` with nothing but the key: PostgreSQL's REPLICA IDENTITY DEFAULT, where the other columns
    are not known, not empty."""
    return all(value is None for name, value in row.items() if name != schema.key_field)


def map_change(source: SourceDefinition, change: RowChange, registry: SchemaRegistry,
               origin: SourceRef | None = None) -> MappedChange:
    """The change as a pobi event's parts; RowError (a stable reason) when it cannot be mapped.

    A key-only ``before`` of an update is dropped (the envelope's "no before image"); a delete keeps it as
    the key with every other field null, which the views never write as a value, so "unknown" never reads
    as "emptied". ``origin`` names the department and system (default: the source definition's)."""
    mapping = source.table(change.table)
    if mapping is None:
        raise RowError("cdc.table_not_mapped", f"table {change.table} is not one of source {source.source}'s "
                       f"tables ({', '.join(source.tables)})")
    schema = registry.latest(mapping.dataset)
    before = None if change.before is None else _mapped_row(mapping, change.before, change, schema)
    after = None if change.after is None else _mapped_row(mapping, change.after, change, schema)
    if before is not None and change.op != "d" and _key_only(before, schema):
        before = None
    if change.op == "d" and before is None:
        raise RowError("event.shape", "a delete (op d) needs the row, or at least its key, in 'before'")
    if change.op != "d" and after is None:
        raise RowError("event.shape", f"op {change.op} needs the row in 'after'")
    key = (after if after is not None else before or {})[schema.key_field]
    position = f"{change.position},key={key}"
    ref = origin or SourceRef(source.department, source.system)
    return MappedChange(mapping.dataset, change.op, before, after, change.ts_ms, position,
                        change_event_id(ref, position))
