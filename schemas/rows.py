"""Checking that a row can become an envelope of its dataset: known fields, the key present, values of
the schema's types. Values are not cleaned here: dirty but well-typed values pass as they are, because
cleaning is the normaliser's job and it needs to see what the department sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foundation.errors import SchemaError
from schemas.registry import FieldSpec, WireSchema
from schemas.values import parse_number

__all__ = ["EXTRA_POLICIES", "RowError", "check_row", "coerce_text_row"]

EXTRA_POLICIES = ("ignore", "reject")  # what a field the dataset does not have does to its row


@dataclass(frozen=True)
class RowError(Exception):
    """Why a row cannot be published; ``reason`` is a stable code, ``message`` says it in words."""

    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


_NUMERIC = ("int", "long", "float", "double")
_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _type_ok(spec: FieldSpec, value: Any) -> bool:
    kind = spec.base_type
    if kind == "string":
        return isinstance(value, str)
    if kind in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("double", "float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return True


def _number_from_text(spec: FieldSpec, text: str, notes: list[str] | None) -> int | float:
    try:
        value = parse_number(text, spec.base_type, spec.unit)
    except ValueError as exc:
        raise RowError("value.type", f"{spec.name} should be a {spec.base_type}: {exc}") from None
    if notes is not None:
        notes.append(f"value.from_text:{spec.name}")
    return value


def check_row(schema: WireSchema, row: Any, *, extra: str = "reject",
              notes: list[str] | None = None) -> dict[str, Any]:
    """The row with every schema field present (absent optional ones as None), or RowError.

    A number sent as text is read as ``parse_number`` reads it; a field the dataset does not have refuses the
    row (``extra="reject"``) or is left out (``"ignore"``). Each such forgiveness is noted in ``notes``
    (``value.from_text:<field>``, ``row.extra_ignored:<name>``) so the publisher can say what it did.
    """
    if not isinstance(row, dict):
        raise RowError("row.not_object", f"expected a JSON object with {schema.subject} fields, "
                                           f"got {type(row).__name__}")
    known = schema.field_names
    unknown = sorted(row.keys() - known, key=str)
    if unknown and extra == "reject":
        raise RowError("row.unknown_field", f"{schema.subject} has no field {', '.join(map(repr, unknown))}; "
                                              f"its fields are {', '.join(sorted(known))}")
    if unknown and notes is not None:
        notes.extend(f"row.extra_ignored:{str(name)[:40]}" for name in unknown)
    out: dict[str, Any] = {}
    for spec in schema.fields:
        value: Any = row.get(spec.name)
        if value is None or (spec.is_key and isinstance(value, str) and not value.strip()):
            if spec.required:
                raise RowError("row.missing_key" if spec.is_key else "row.missing_field",
                                 f"{spec.name} is required and missing")
            out[spec.name] = None
            continue
        if isinstance(value, str):
            if spec.base_type == "string":  # most values of most rows: nothing more to check
                out[spec.name] = value
                continue
            if spec.base_type in _NUMERIC:
                value = _number_from_text(spec, value, notes)
        if not _type_ok(spec, value):
            raise RowError("value.type", f"{spec.name} should be a {spec.base_type}, got {type(value).__name__} "
                                           f"{str(value)[:40]!r}")
        low, high = _INT_RANGES.get(spec.base_type, (None, None))
        if low is not None and not low <= value <= high:
            raise RowError("value.out_of_range", f"{spec.name} {str(value)[:40]} does not fit an Avro "
                                                   f"{spec.base_type}")
        out[spec.name] = float(value) if spec.base_type in ("double", "float") else value
    return out


def coerce_text_row(schema: WireSchema, row: dict[str, str]) -> dict[str, Any]:
    """A CSV row (all text) turned into the schema's types: '' is null, numbers are parsed."""
    out: dict[str, Any] = {}
    for name, text in row.items():
        value: Any = text.strip() if isinstance(text, str) else text
        if value == "" or value is None:
            out[name] = None
            continue
        try:
            kind = schema.field_spec(name).base_type
        except SchemaError:
            out[name] = value  # check_row names the unknown field
            continue
        if kind in _NUMERIC and isinstance(value, str):
            value = _number_from_text(schema.field_spec(name), value, None)  # text is all a CSV has: no note
        out[name] = value
    return out
