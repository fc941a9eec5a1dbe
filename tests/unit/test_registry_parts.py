"""The registry's pure parts: Confluent's frame, ids that never collide, and the judge of a proposal."""

from __future__ import annotations

import json

import pytest

from foundation.errors import DecodeError
from foundation.topic_names import Topics
from pobi.registry.judge import InvalidSchema, judge
from pobi.registry.subjects import hub_subjects
from schemas.confluent import frame, natural_id, unframe
from schemas.registry import SCHEMA_ROOT, default_registry
from topics.schema_ids import assign_ids

SUBJECTS = hub_subjects(Topics(""), default_registry())


def test_the_frame_is_confluent_s() -> None:
    assert frame(258, b"body") == b"\x00\x00\x00\x01\x02body"
    assert unframe(frame(2**31 - 1, b"x")) == (2**31 - 1, b"x")
    for bad in (None, b"", b"\x00\x00\x01", b"\xc3\x01" + b"0" * 10):
        with pytest.raises(DecodeError):
            unframe(bad)


def test_ids_are_natural_unless_taken_and_never_shared() -> None:
    fingerprint = "8000000100000000"
    assert natural_id(fingerprint) == 1  # the high bit dropped: 31 bits, never 0
    assert natural_id("0000000000000000") == 1
    known = {"aaaa": natural_id("ffffffff00000000")}
    new = assign_ids(known, ["ffffffff11111111", "ffffffff22222222", "aaaa"])
    assert set(new) == {"ffffffff11111111", "ffffffff22222222"}  # what was known keeps its id
    assert len({*new.values(), *known.values()}) == 3
    assert assign_ids(known, ["ffffffff11111111", "ffffffff22222222"]) == new  # the same answer every time


def test_the_judge_names_the_field_and_takes_a_row_or_a_whole_event() -> None:
    versions = SUBJECTS["ingest.enterprise-value"]
    row = json.loads((SCHEMA_ROOT / "enterprise" / "v1.avsc").read_text(encoding="utf-8"))
    assert judge(versions, json.dumps(row)) == []
    assert judge(versions, json.dumps(versions[-1].schema)) == []  # the whole change event: its row is judged
    dropped = {**row, "fields": [f for f in row["fields"] if f["name"] != "name"]}
    assert judge(versions, json.dumps(dropped)) == []  # dropping an optional field reads both ways
    required = {**row, "fields": [*row["fields"], {"name": "staff", "type": "int"}]}
    problems = judge(versions, json.dumps(required))
    assert problems and all("staff" in p for p in problems)
    with pytest.raises(InvalidSchema):
        judge(versions, "{")
    with pytest.raises(InvalidSchema):
        judge(versions, json.dumps({"type": "string"}))
