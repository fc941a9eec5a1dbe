"""What the normaliser trusts of an envelope, pure: the dataset is the topic's, times and ints must fit the
stores, ids and departments are bounded and printable, dedup keys separate departments and datasets, and
the content fingerprint ignores what a re-send may change."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from streams.normalize.envelope import content_digest, dedup_key, envelope_problem
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from streams.rules.outcome import RuleViolation
from streams.rules.ranges import EPOCH_MS_MAX, check_epoch_ms, check_int32, in_view_dates
from streams.rules.text import clean_text
from tests.samples import SAMPLE_ROWS

CLOCK = RuleClock(date(2026, 11, 26), 1_795_660_200_000)  # 2026-11-26 10:30 in Fuzhou
INGEST = {"topic": "ingest.x", "partition": 0, "offset": 0, "ts_ms": 1}


def event(name: str, row: dict, **changes: object) -> dict:
    built = build_envelope(default_registry().latest(name), event_id="e-1", op="c",
                           source=SourceRef("public-security", "hukou"), position="1", ts_ms=CLOCK.now_ms,
                           before=None, after=row)
    return built | changes


def refusal(dataset: str, built: dict) -> str:
    with pytest.raises(RuleViolation) as err:
        normalize_event(default_registry().latest(dataset), built, CLOCK, INGEST)
    return err.value.code


@pytest.mark.parametrize(("changes", "code"), [
    ({"dataset": "enterprise"}, "event.wrong_dataset"),
    ({"ts_ms": -1}, "event.ts_out_of_range"),
    ({"ts_ms": EPOCH_MS_MAX}, "event.ts_out_of_range"),
    ({"ts_ms": 253_402_300_800_000}, "event.ts_out_of_range"),
])
def test_the_envelope_must_fit_the_topic_and_the_stores(changes: dict, code: str) -> None:
    assert refusal("person", event("person", SAMPLE_ROWS["person"], **changes)) == code


@pytest.mark.parametrize(("row", "code"), [
    ({"statutory_limit_days": 2**31}, "value.out_of_range"),
    ({"trips": -(2**31) - 1}, "value.out_of_range"),
    ({"stage_time": "1969-12-31T23:59:59+08:00"}, "datetime.out_of_range"),
    ({"stage_time": "2100-06-01T00:00:00+08:00"}, "datetime.out_of_range"),
])
def test_values_beyond_the_views_columns_are_refused(row: dict, code: str) -> None:
    assert refusal("approval_case", event("approval_case", SAMPLE_ROWS["approval_case"] | row)) == code


def test_the_edges_that_fit_are_kept() -> None:
    case = SAMPLE_ROWS["approval_case"] | {"statutory_limit_days": 2**31 - 1, "stage_time": "1970-01-01T08:00:00+08:00"}
    clean = normalize_event(default_registry().latest("approval_case"), event("approval_case", case), CLOCK, INGEST)
    assert clean["enrichment"]["stage_time.epoch_ms"] == "0"
    assert check_epoch_ms(0, "x", "t") == 0 and check_int32(2**31 - 1, "x", "n") == 2**31 - 1


def test_licence_dates_the_view_cannot_hold_are_flagged_not_refused() -> None:
    licence = SAMPLE_ROWS["licence"] | {"issued_date": "1965-05-01", "valid_from": "1965-05-01"}
    clean = normalize_event(default_registry().latest("licence"), event("licence", licence), CLOCK, INGEST)
    assert [f["field"] for f in clean["quality_flags"] if f["code"] == "licence.date_outside_views"] == [
        "issued_date", "valid_from"]
    assert not in_view_dates("1965-05-01") and in_view_dates("2099-12-31") and in_view_dates(None)


@pytest.mark.parametrize(("changes", "code"), [
    ({"event_id": ""}, "event.id_invalid"),
    ({"event_id": "a\x1fb"}, "event.id_invalid"),
    ({"event_id": "x" * 257}, "event.id_invalid"),
    ({"event_id": 42}, "event.id_invalid"),
    ({"source": {"department": "", "system": "s", "position": "p"}}, "event.source_invalid"),
    ({"source": {"department": "d\u202e", "system": "s", "position": "p"}}, "event.source_invalid"),
    ({"source": {"department": "d" * 129, "system": "s", "position": "p"}}, "event.source_invalid"),
])
def test_ids_and_departments_must_be_printable_and_bounded(changes: dict, code: str) -> None:
    problem = envelope_problem(event("person", SAMPLE_ROWS["person"], **changes))
    assert problem is not None and problem.code == code


def test_a_well_formed_envelope_has_no_problem() -> None:
    assert envelope_problem(event("person", SAMPLE_ROWS["person"], event_id="陈-1 2")) is None


def test_dedup_keys_keep_departments_and_datasets_apart() -> None:
    police = event("person", SAMPLE_ROWS["person"])
    civil = event("person", SAMPLE_ROWS["person"], source={"department": "civil-affairs", "system": "s",
                                                           "position": "p"})
    assert dedup_key("person", police) != dedup_key("person", civil)
    assert dedup_key("person", police) != dedup_key("enterprise", police)
    # a department name cannot be crafted to collide with another's key
    tricky = event("person", SAMPLE_ROWS["person"], event_id="x",
                   source={"department": "a|1:b", "system": "s", "position": "p"})
    plain = event("person", SAMPLE_ROWS["person"], event_id="1:b|x", source={"department": "a", "system": "s",
                                                                           "position": "p"})
    assert dedup_key("person", tricky) != dedup_key("person", plain)


def test_the_fingerprint_is_of_what_the_event_says() -> None:
    first = event("person", SAMPLE_ROWS["person"])
    resent = event("person", SAMPLE_ROWS["person"], ts_ms=first["ts_ms"] + 60_000,
                   source={"department": "public-security", "system": "hukou", "position": "other-file:9"})
    changed = event("person", SAMPLE_ROWS["person"] | {"address": "别处"})
    assert content_digest(first) == content_digest(resent)
    assert content_digest(first) != content_digest(changed)
    assert len(content_digest(first)) == 16


@pytest.mark.parametrize(("raw", "clean"), [
    ("陈\x00志明", "陈志明"), ("\u202e明志陈", "明志陈"), ("a\u2066b\u2069", "ab"), ("x\x7fy", "xy"),
    ("\ufeff福州", "福州"), ("  tabs\tand\nlines ", "tabs and lines"),
])
def test_control_and_bidirectional_characters_are_removed(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
