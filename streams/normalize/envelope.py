"""What the normaliser trusts of an envelope before any rule runs: an event id and a department it can key
dedup by, and a fingerprint of the content so a reused id is told from a true repeat. Pure."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from streams.rules.outcome import RuleViolation
from streams.rules.ranges import MAX_DEPARTMENT, MAX_EVENT_ID

__all__ = ["content_digest", "dedup_key", "envelope_problem"]


def _printable(text: str) -> bool:
    return text.isprintable()  # no control, separator or format characters (NUL, \x1f, RTL overrides…)


def envelope_problem(event: dict[str, Any]) -> RuleViolation | None:
    """Why the envelope cannot be deduplicated or attributed, or None."""
    event_id, department = event.get("event_id"), (event.get("source") or {}).get("department")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID or not _printable(event_id):
        return RuleViolation("event.id_invalid", f"the event id is empty, longer than {MAX_EVENT_ID} characters "
                             "or has control characters")
    if (not isinstance(department, str) or not department or len(department) > MAX_DEPARTMENT
            or not _printable(department)):
        return RuleViolation("event.source_invalid", f"source.department is empty, longer than {MAX_DEPARTMENT} "
                             "characters or has control characters")
    return None


def dedup_key(dataset: str, event: dict[str, Any]) -> str:
    """Event ids are unique per publisher, not across the hub: one department cannot suppress another's
    events, nor one dataset another's, by reusing an id."""
    return f"{dataset}|{len(event['source']['department'])}:{event['source']['department']}|{event['event_id']}"


def content_digest(event: dict[str, Any]) -> str:
    """64 bits of what the event says — its op and rows — independent of the schema version it was written
    with; a re-send may carry another ``ts_ms`` or source position and is still the same event."""
    data = orjson.dumps((event["op"], event["before"], event["after"]), option=orjson.OPT_SORT_KEYS,
                        default=repr)
    return hashlib.blake2b(data, digest_size=8).hexdigest()
