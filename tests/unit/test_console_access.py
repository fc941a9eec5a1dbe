"""The console's sessions and what a viewer sees: a session is signed and expires; a forged or expired one is
nobody; a viewer's search labels and 360° view are masked as a contract would mask them, an operator's not."""

from __future__ import annotations

from pobi.console.access import ConsoleUser, Sessions, role_masks, shown_to
from schemas.registry import default_registry

MASKS = role_masks(default_registry())
VIEWER, OPERATOR = ConsoleUser("clerk", "viewer"), ConsoleUser("oncall", "operator")


def test_a_session_is_signed_and_expires() -> None:
    now = [1_000_000.0]
    sessions = Sessions(b"k" * 32, clock=lambda: now[0])
    token = sessions.issue(VIEWER)
    assert sessions.verify(token) == VIEWER
    payload, _, signature = token.partition(".")
    assert sessions.verify(f"{payload}.{'0' * len(signature)}") is None
    assert Sessions(b"other key" * 4, clock=lambda: now[0]).verify(token) is None
    now[0] += 8 * 3600 + 1
    assert sessions.verify(token) is None
    assert sessions.verify(None) is None and sessions.verify("garbage") is None


def test_a_viewer_sees_protected_values_partially_and_an_operator_in_clear() -> None:
    found = [{"entity_type": "person", "entity_id": "p", "label": "陈志明", "matched": "name"},
             {"entity_type": "enterprise", "entity_id": "e", "label": "陈志明", "matched": "legal_rep_name"},
             {"entity_type": "person", "entity_id": "p", "label": "陈志明", "matched": "id"}]
    assert [f["label"] for f in shown_to(VIEWER, "search", found, MASKS)] == ["陈**", "陈志明", "陈**"]
    assert shown_to(OPERATOR, "search", found, MASKS) == found
    timeline = {"entity_type": "person", "events": []}
    assert shown_to(VIEWER, "timeline", timeline, MASKS) is timeline  # no values in it
