"""Whether a proposed schema could become a subject's next version under pobi's rule, FULL_TRANSITIVE: it must
read what every existing version wrote, and every existing version must read what it writes. Pure.

For an ingest subject a department may post either its row (what it edits: ``schemas/avro/<dataset>/vN.avsc``)
or the whole change event; the event's envelope is pobi's, so the row is what is judged.
"""

from __future__ import annotations

import json
from typing import Any

from fastavro import parse_schema

from pobi.registry.subjects import SubjectVersion
from schemas.compatibility import check_pair
from schemas.registry import WireSchema, change_event_schema

__all__ = ["InvalidSchema", "avro_of", "judge", "proposed"]


class InvalidSchema(ValueError):  # noqa: N818 - the registry's own name for it: 42201 "Invalid schema"
    """The proposal is not an Avro schema (the registry's 42201)."""


def _row_of(proposal: Any) -> Any:
    if isinstance(proposal, dict) and {f.get("name") for f in proposal.get("fields", []) if isinstance(f, dict)} \
            >= {"op", "before", "after"}:
        for field in proposal["fields"]:  # the row's record is defined where first used: before or after
            if field.get("name") in ("before", "after"):
                kinds = field["type"] if isinstance(field["type"], list) else [field["type"]]
                found = next((t for t in kinds if isinstance(t, dict)), None)
                if found is not None:
                    return found
    return proposal


def avro_of(text: str) -> Any:
    """The schema in ``text`` (JSON), or InvalidSchema when it is not Avro."""
    try:
        raw = json.loads(text)
        parse_schema(json.loads(text), _write_hint=False)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidSchema(f"not an Avro schema: {str(exc)[:200]}") from None
    return raw


def proposed(versions: list[SubjectVersion], text: str) -> WireSchema:
    """The proposal as the subject's next version."""
    raw = avro_of(text)
    latest = versions[-1]
    assert latest.wire is not None  # feeds (no rule) are not judged
    if latest.dataset is not None:
        row = _row_of(raw)
        if not isinstance(row, dict) or row.get("type") != "record":
            raise InvalidSchema("an ingest subject's schema is the dataset's row: an Avro record")
        try:
            return WireSchema(latest.wire.subject, latest.version + 1, change_event_schema(latest.dataset, row),
                              row, "change")
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidSchema(f"not a row pobi can wrap: {str(exc)[:200]}") from None
    return WireSchema(latest.wire.subject, latest.version + 1, raw, None, latest.wire.kind)


def judge(versions: list[SubjectVersion], text: str) -> list[str]:
    """Why the proposal could not be the next version (each problem names the field); empty when it could."""
    candidate = proposed(versions, text)
    problems = []
    for existing in versions:
        if existing.wire is not None:
            problems += check_pair(candidate, existing.wire) + check_pair(existing.wire, candidate)
    return [str(p) for p in dict.fromkeys(problems)]
