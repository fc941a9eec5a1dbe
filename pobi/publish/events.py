"""From a draft read by an adapter to pobi's change event: the one place where every way in (a file, standard
input, the HTTP gateway) checks a record and gives it its event id, so they all answer alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pobi.publish.adapters import Draft
from schemas.envelope import SourceRef, build_envelope, event_id_for
from schemas.registry import OPS, WireSchema
from schemas.rows import RowError, check_row
from streams.rules.ranges import EPOCH_MS_MAX, MAX_EVENT_ID

__all__ = ["EventRules", "envelope_for"]


@dataclass(frozen=True)
class EventRules:
    """What the publisher decides for records that do not say: the op, the time, what extra fields do."""

    source: SourceRef  # the department and system: from the caller, never from the record
    label: str  # the input's name; a record's position is ``<label>:<line>`` unless it carries one
    default_ts: int  # epoch ms for records without ``ts_ms``
    op: str = "r"
    extra: str = "ignore"  # EXTRA_POLICIES


def _check_event_fields(draft: Draft) -> None:
    if draft.ts_ms is not None and (not isinstance(draft.ts_ms, int) or isinstance(draft.ts_ms, bool)):
        raise RowError("value.type", f"ts_ms should be epoch milliseconds, got {str(draft.ts_ms)[:40]!r}")
    if draft.ts_ms is not None and not 0 <= draft.ts_ms < EPOCH_MS_MAX:
        raise RowError("event.ts_out_of_range", f"ts_ms {draft.ts_ms} is outside 1970-01-01 … 2099-12-31")
    if draft.event_id is not None and (not isinstance(draft.event_id, str) or not draft.event_id.strip()):
        raise RowError("value.type", f"event_id should be a non-empty string, got {str(draft.event_id)[:40]!r}")
    if draft.event_id is not None and (len(draft.event_id) > MAX_EVENT_ID or not draft.event_id.isprintable()):
        raise RowError("event.id_invalid", f"event_id is longer than {MAX_EVENT_ID} characters or has control "
                       "characters")
    if draft.position is not None and not isinstance(draft.position, str):
        raise RowError("value.type", f"source.position should be a string, got {str(draft.position)[:40]!r}")


def envelope_for(schema: WireSchema, draft: Draft, rules: EventRules,
                 notes: list[str] | None = None) -> dict[str, Any]:
    """The change event for ``draft``, or RowError (a stable reason and a message) saying why there is none.

    Without an ``event_id`` the id is derived from the position and the record's bytes, so sending the same
    input again gives the same ids and the hub drops the repeats."""
    op = draft.op or rules.op
    if op not in OPS:
        raise RowError("event.op", f"op {str(op)[:10]!r} is not one of {', '.join(OPS)}")
    before = None if draft.before is None else check_row(schema, draft.before, extra=rules.extra, notes=notes)
    after = None if draft.after is None else check_row(schema, draft.after, extra=rules.extra, notes=notes)
    if op == "d" and before is None:
        raise RowError("event.shape", "a delete (op d) needs the row in 'before'")
    if op != "d" and after is None:
        raise RowError("event.shape", f"op {op} needs the row in 'after'")
    _check_event_fields(draft)
    position = draft.position or f"{rules.label}:{draft.place}"
    return build_envelope(
        schema, event_id=draft.event_id or event_id_for(rules.source, position, draft.raw), op=op,
        source=rules.source, position=position, ts_ms=draft.ts_ms or rules.default_ts, before=before, after=after,
    )
