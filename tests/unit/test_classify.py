"""Classification coding, pure: each clean event names its entity and the entities it mentions, with the
roles that let later stages join records across departments."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from tests.samples import SAMPLE_ROWS

CLOCK = RuleClock(date(2026, 11, 26), 1_795_660_200_000)  # 2026-11-26 10:30 in Fuzhou


def clean(dataset: str, row: dict) -> dict:
    schema = default_registry().latest(dataset)
    event = build_envelope(schema, event_id="e", op="c", source=SourceRef("d", "s"), position="1",
                           ts_ms=CLOCK.now_ms, before=None, after=row)
    return normalize_event(schema, event, CLOCK, {"topic": "t", "partition": 0, "offset": 0, "ts_ms": 1})


@pytest.mark.parametrize(("dataset", "changes", "entity", "related"), [
    ("person", {}, ("person", "350102199003071234"), []),
    ("enterprise", {}, ("enterprise", "91350100M000100Y43"),
     [("legal_representative", "person", "350102199003071234")]),
    ("licence", {}, ("licence", SAMPLE_ROWS["licence"]["licence_id"]),
     [("holder", "enterprise", "91350100M000100Y43"), ("issuer", "enterprise", "11430000006122244L")]),
    ("licence", {"holder_type": "111", "holder_id": "３５０１０２１９９００３０７１２３４"},
     ("licence", SAMPLE_ROWS["licence"]["licence_id"]),
     [("holder", "person", "350102199003071234"), ("issuer", "enterprise", "11430000006122244L")]),
    ("approval_case", {}, ("case", "FJ2026112600001"), [("applicant", "enterprise", "91350100M000100Y43")]),
    ("approval_case", {"applicant_type": None, "applicant_id": "350102199003071234"}, ("case", "FJ2026112600001"),
     [("applicant", "person", "350102199003071234")]),  # no type given: known by its shape
    ("sensor_reading", {"measured_at": "2026-11-26T09:00:00+08:00"}, ("sensor", "FZ-GL-PM25-001"),
     [("station", "station", "FZ-GL-01")]),
])
def test_entities_and_their_relations(dataset: str, changes: dict, entity: tuple[str, str],
                                      related: list[tuple[str, str, str]]) -> None:
    event = clean(dataset, SAMPLE_ROWS[dataset] | changes)
    assert (event["entity"]["type"], event["entity"]["id"]) == entity
    assert [(r["role"], r["type"], r["id"]) for r in event["related"]] == related
