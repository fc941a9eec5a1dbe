"""One raw change event → one clean event, or RuleViolation saying why it cannot pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.registry import WireSchema
from streams.normalize.classify import classify
from streams.normalize.datasets import DATASET_CHECKS
from streams.normalize.fields import (
    FieldRule,
    RuleClock,
    field_rule,
    int_rule,
    normalize_holder_id,
    text_rule,
    violation_on,
)
from streams.rules.outcome import RuleViolation
from streams.rules.ranges import check_epoch_ms
from streams.rules.text import clean_text

__all__ = ["CleanRow", "normalize_event", "normalize_row"]


@dataclass
class CleanRow:
    row: dict[str, Any]
    flags: list[dict[str, Any]] = field(default_factory=list)  # {code, field, message}
    derived: dict[str, str] = field(default_factory=dict)  # "field.key" → value
    holder_kinds: dict[str, str] = field(default_factory=dict)  # holder/applicant field → person|enterprise


_Plan = tuple[tuple[str, FieldRule | None, str | None], ...]
_plans: dict[tuple[str, int], _Plan] = {}


def _plan(schema: WireSchema) -> _Plan:
    """(field, rule, type field) per field of the row, worked out once per schema version."""
    found = _plans.get((schema.subject, schema.version))
    if found is not None:
        return found
    plan: list[tuple[str, FieldRule | None, str | None]] = []
    for spec in schema.fields:
        if spec.rule == "holder_id":
            plan.append((spec.name, None, spec.name.removesuffix("_id") + "_type"))
        elif spec.base_type == "int" and spec.rule in (None, "text"):
            plan.append((spec.name, int_rule, None))
        else:
            plan.append((spec.name, field_rule(spec.rule, required=spec.required), None))
    _plans[(schema.subject, schema.version)] = tuple(plan)
    return _plans[(schema.subject, schema.version)]


def normalize_row(schema: WireSchema, row: dict[str, Any], clock: RuleClock) -> CleanRow:
    clean = CleanRow({})
    out, flags, derived = clean.row, clean.flags, clean.derived
    for name, rule, type_field in _plan(schema):
        value = row.get(name)
        if rule is text_rule:  # most fields: inlined, it is a third of the time otherwise
            out[name] = clean_text(value) if value.__class__ is str else value
            continue
        try:
            if rule is None:
                if value is None:
                    out[name] = None
                    continue
                result, clean.holder_kinds[name] = normalize_holder_id(value, row.get(type_field or ""), clock)
            else:
                result = rule(value, clock)
        except RuleViolation as exc:
            raise violation_on(name, exc) from None
        out[name] = result.value
        if result.flags:
            flags += [{"code": f.code, "field": name, "message": f.message} for f in result.flags]
        if result.derived:
            for key, derived_value in result.derived.items():
                derived[f"{name}.{key}"] = derived_value
    for about, flag in DATASET_CHECKS[schema.subject](out, derived, clock):
        flags.append({"code": flag.code, "field": about, "message": flag.message})
    return clean


def _lenient_before(schema: WireSchema, row: dict[str, Any], clock: RuleClock) -> tuple[dict[str, Any], list[Any]]:
    """The ``before`` image is history: cleaned where its rules pass, kept as sent where they do not."""
    try:
        return normalize_row(schema, row, clock).row, []
    except RuleViolation as exc:
        return row, [{"code": f"before.{exc.code}", "field": None, "message": f"before image: {exc.message}"}]


def normalize_event(schema: WireSchema, event: dict[str, Any], clock: RuleClock,
                    ingest: dict[str, Any]) -> dict[str, Any]:
    """The clean event (``<dataset>.clean`` schema) of a decoded change event. A delete is judged by its
    ``before`` image, everything else by ``after``. The dataset is the schema's (the topic's): an envelope
    that claims another is refused, since fan-out and the views route by it."""
    if event["dataset"] != schema.subject:
        raise RuleViolation("event.wrong_dataset", f"the event claims dataset {str(event['dataset'])[:60]!r} "
                            f"on the {schema.subject} topic")
    check_epoch_ms(event["ts_ms"], "event.ts_out_of_range", "ts_ms")
    subject = event["before"] if event["op"] == "d" else event["after"]
    if subject is None:
        side = "before" if event["op"] == "d" else "after"
        raise RuleViolation("event.row_missing", f"an op={event['op']} event needs a {side} row")
    clean = normalize_row(schema, subject, clock)
    before: dict[str, Any] | None = None
    before_flags: list[dict[str, Any]] = []
    if event["op"] != "d" and event["before"] is not None:
        before, before_flags = _lenient_before(schema, event["before"], clock)
    entity, related = classify(schema.subject, schema.key_field, clean.row, clean.holder_kinds, clean.derived)
    return {
        **event,
        "before": clean.row if event["op"] == "d" else before,
        "after": None if event["op"] == "d" else clean.row,
        "ingest": ingest,
        "normalized_ts_ms": clock.now_ms,
        "entity": entity,
        "related": related,
        "quality_flags": clean.flags + before_flags,
        "enrichment": clean.derived,
    }
