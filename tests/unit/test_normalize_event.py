"""Whole change events through the pure normalisation: clean rows, flags, derived values, classification."""

from datetime import date

import pytest

from schemas.codec import Codec
from schemas.registry import default_registry
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from streams.rules.outcome import RuleViolation
from tests.samples import SAMPLE_ROWS

CLOCK = RuleClock(date(2026, 11, 26), 1_795_657_200_000)  # 2026-11-26 09:40 UTC+8
INGEST = {"topic": "ingest.x", "partition": 0, "offset": 7, "ts_ms": 1_795_657_200_000}


def event(dataset: str, op: str = "c", before: dict | None = None, **changes: object) -> dict:
    after = None if op == "d" else {**SAMPLE_ROWS[dataset], **changes}
    return {"event_id": "e-1", "dataset": dataset, "op": op, "ts_ms": 1,
            "source": {"department": "公安厅", "system": "人口库", "position": "1"},
            "before": before, "after": after}


def normalize(dataset: str, ev: dict) -> dict:
    return normalize_event(default_registry().latest(dataset), ev, CLOCK, INGEST)


def codes(clean: dict) -> list[str]:
    return [f["code"] for f in clean["quality_flags"]]


@pytest.mark.parametrize("dataset", list(SAMPLE_ROWS))
def test_every_sample_row_is_clean_and_encodes_with_the_clean_schema(dataset: str) -> None:
    clean = normalize(dataset, event(dataset))
    assert clean["quality_flags"] == []
    codec = Codec()
    schema, decoded = codec.decode(codec.encode(f"{dataset}.clean", clean))
    assert schema.subject == f"{dataset}.clean" and decoded["entity"] == clean["entity"]


def test_a_dirty_person_is_cleaned_to_canonical_values_with_derived_names() -> None:
    clean = normalize("person", event("person", id_number="３５０１０２１９９００３０７１２３４", name="\u3000陈志明 ",
                                      birth_date="1990年3月7日", phone="+86 139-0591-0001", gender="男"))
    row = clean["after"]
    assert row["id_number"] == "350102199003071234" and row["name"] == "陈志明"
    assert (row["birth_date"], row["phone"], row["gender"]) == ("1990-03-07", "13905910001", "1")
    assert clean["enrichment"]["division_code.city"] == "福州市"
    assert clean["enrichment"]["division_code.county"] == "鼓楼区"
    assert clean["entity"] == {"type": "person", "id": "350102199003071234"}
    assert clean["ingest"] == INGEST and clean["normalized_ts_ms"] == CLOCK.now_ms


def test_person_fields_that_disagree_with_the_id_number_are_flagged_and_missing_ones_filled() -> None:
    assert codes(normalize("person", event("person", gender="2"))) == ["person.gender_mismatch"]
    assert codes(normalize("person", event("person", birth_date="1990-03-08"))) == ["person.birth_date_mismatch"]
    filled = normalize("person", event("person", gender=None, birth_date=None))
    assert (filled["after"]["gender"], filled["after"]["birth_date"]) == ("1", "1990-03-07")
    assert codes(filled) == ["person.gender_from_id", "person.birth_date_from_id"]


def test_a_legacy_15_digit_number_becomes_18_and_is_flagged() -> None:
    clean = normalize("person", event("person", id_number="350102900307123", gender=None, birth_date=None))
    assert clean["after"]["id_number"] == "350102199003071234"
    assert "id_number.converted_from_15" in codes(clean)


@pytest.mark.parametrize(("dataset", "changes", "code"), [
    ("person", {"id_number": "350102199003071235"}, "id_number.checksum"),
    ("person", {"division_code": "35A102"}, "division_code.format"),
    ("person", {"phone": "123"}, "phone.format"),
    ("person", {"birth_date": "1990-02-30"}, "date.impossible"),
    ("enterprise", {"uscc": "91350100M000100Y4I"}, "uscc.format"),
    ("enterprise", {"legal_rep_id": "3.50102E+17"}, "id_number.excel_precision_loss"),
    ("licence", {"valid_to": "2020-01-01"}, "licence.validity_reversed"),
    ("licence", {"holder_id": "91350100M000100Y53"}, "uscc.checksum"),
    ("approval_case", {"stage": "lost"}, "case.stage_unknown"),
    ("approval_case", {"stage_time": None}, "case.stage_time_missing"),
    ("sensor_reading", {"value": -999.0}, "sensor.out_of_range"),
])
def test_hard_failures_name_their_reason_and_field(dataset: str, changes: dict, code: str) -> None:
    with pytest.raises(RuleViolation) as err:
        normalize(dataset, event(dataset, **changes))
    assert err.value.code == code


def test_classification_names_the_entity_and_who_it_mentions() -> None:
    enterprise = normalize("enterprise", event("enterprise"))
    assert enterprise["entity"] == {"type": "enterprise", "id": "91350100M000100Y43"}
    assert enterprise["related"] == [{"role": "legal_representative", "type": "person", "id": "350102199003071234"}]
    licence = normalize("licence", event("licence"))
    assert {"role": "holder", "type": "enterprise", "id": "91350100M000100Y43"} in licence["related"]
    assert {"role": "issuer", "type": "enterprise", "id": "11430000006122244L"} in licence["related"]
    person_holder = normalize("licence", event("licence", holder_type="111", holder_id="350102199003071234"))
    assert {"role": "holder", "type": "person", "id": "350102199003071234"} in person_holder["related"]
    case = normalize("approval_case", event("approval_case", applicant_type="个人",
                                            applicant_id="35010219900307123４"))
    assert case["entity"]["type"] == "case"
    assert case["related"][0]["type"] == "person"


def test_a_delete_is_judged_by_its_before_image_and_an_update_keeps_history_leniently() -> None:
    deleted = normalize("person", event("person", op="d", before=dict(SAMPLE_ROWS["person"])))
    assert deleted["after"] is None and deleted["before"]["id_number"] == "350102199003071234"
    broken_before = {**SAMPLE_ROWS["person"], "phone": "not a phone"}
    updated = normalize("person", event("person", op="u", before=broken_before))
    assert updated["before"]["phone"] == "not a phone"
    assert codes(updated) == ["before.phone.format"]
    with pytest.raises(RuleViolation) as err:
        normalize("person", event("person", op="d"))
    assert err.value.code == "event.row_missing"


def test_sensor_readings_are_converted_and_late_ones_flagged() -> None:
    clean = normalize("sensor_reading", event("sensor_reading", value=0.0235, unit="mg/m3",
                                              measured_at="2026-11-26T08:00:00+08:00"))
    assert (clean["after"]["value"], clean["after"]["unit"]) == (23.5, "μg/m³")
    assert codes(clean) == ["sensor.unit_converted", "sensor.late"]
    assert clean["related"] == [{"role": "station", "type": "station", "id": "FZ-GL-01"}]
