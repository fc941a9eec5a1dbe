"""Dates, phones, postcodes, licence identifiers, approval stages and sensor readings, against the examples
of shared/standards.md and the mistakes seen in departments' data."""

from datetime import date

import pytest

from streams.rules.approval import canonical_stage, check_case_stage
from streams.rules.contact import normalize_phone, normalize_postcode
from streams.rules.dates import NO_END, normalize_date, normalize_datetime
from streams.rules.licence import normalize_licence_id
from streams.rules.outcome import RuleViolation
from streams.rules.sensor import normalize_reading

DAY = 86_400_000


@pytest.mark.parametrize("spelling", [
    "2017年12月07日", "2017年12月7日", "2017.12.07", "2017/12/07", "20171207", "2017-12-07 00:00:00",
    "二〇一七年十二月七日", "２０１７－１２－０７", " 2017-12-07 "])
def test_every_accepted_date_spelling_gives_the_iso_date(spelling: str) -> None:
    assert normalize_date(spelling).iso == "2017-12-07"


@pytest.mark.parametrize(("spelling", "code"), [
    ("2017-02-30", "date.impossible"), ("2019-02-29", "date.impossible"), ("1900-02-29", "date.impossible"),
    ("2017年13月01日", "date.impossible"), ("12/07/2017", "date.ambiguous"), ("next tuesday", "date.format"),
    ("43076", "date.format"),  # an Excel serial is refused unless the column opts in
])
def test_dates_that_cannot_be_kept(spelling: str, code: str) -> None:
    with pytest.raises(RuleViolation) as err:
        normalize_date(spelling)
    assert err.value.code == code


def test_leap_day_2000_open_ended_and_excel_serial() -> None:
    assert normalize_date("2000-02-29").value == date(2000, 2, 29)
    assert normalize_date("二〇〇〇年二月二十九日").value == date(2000, 2, 29)
    open_ended = normalize_date("长期")
    assert (open_ended.value, open_ended.flags[0].code) == (NO_END, "date.open_ended")
    serial = normalize_date("43076", excel_serial=True)
    assert (serial.iso, serial.flags[0].code) == ("2017-12-07", "date.excel_serial")
    assert normalize_date("无") is None and normalize_date(None) is None


def test_datetimes_without_a_zone_are_china_standard_time() -> None:
    assert normalize_datetime("2026-11-26T10:00:00").iso == "2026-11-26T10:00:00+08:00"
    assert normalize_datetime("2026-11-26 02:00:00+00:00").epoch_ms == normalize_datetime("2026-11-26 10:00").epoch_ms
    assert normalize_datetime("2026年11月26日").iso == "2026-11-26T00:00:00+08:00"
    with pytest.raises(RuleViolation) as err:
        normalize_datetime("soon")
    assert err.value.code == "datetime.format"


@pytest.mark.parametrize(("raw", "value", "kind"), [
    ("13800138000", "13800138000", "mobile"), ("+86 138-0013-8000", "13800138000", "mobile"),
    ("008613800138000", "13800138000", "mobile"), ("８６１３８００１３８０００", "13800138000", "mobile"),
    ("19212345678", "19212345678", "mobile"), ("0591-87654321", "059187654321", "landline"),
    ("(0592) 5123456", "05925123456", "landline"),
])
def test_phones(raw: str, value: str, kind: str) -> None:
    phone = normalize_phone(raw)
    assert (phone.value, phone.kind, phone.flags) == (value, kind, ())


def test_unassigned_mobile_segment_is_flagged_and_nonsense_refused() -> None:
    assert normalize_phone("14012345678").flags[0].code == "phone.unknown_segment"
    for bad in ("12345678901", "1380013800", "phone me", "23800138000"):
        with pytest.raises(RuleViolation) as err:
            normalize_phone(bad)
        assert err.value.code == "phone.format"


def test_postcodes_keep_leading_zeros() -> None:
    assert normalize_postcode("010000") == "010000"  # Hohhot; a [1-9] first digit rule would refuse it
    assert normalize_postcode("350 000") == "350000"
    assert normalize_postcode("10000", numeric_source=True) == "010000"
    with pytest.raises(RuleViolation):
        normalize_postcode("10000")  # zeros are only restored when the column is known to be numeric
    with pytest.raises(RuleViolation):
        normalize_postcode("35000A")


REAL_LICENCES = [
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
]


@pytest.mark.parametrize("identifier", REAL_LICENCES)
def test_real_licence_identifiers_verify(identifier: str) -> None:
    licence = normalize_licence_id(identifier.lower())
    assert (licence.value, licence.flags) == (identifier, ())


def test_licence_check_character_mutations_are_flagged() -> None:
    base = REAL_LICENCES[0]
    for char in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if char == base[-1]:
            continue
        flags = normalize_licence_id(base[:-1] + char).flags
        assert [f.code for f in flags] == ["licence_id.checksum"]
    swagger = "1.2.156.3005.2.11100000000013661B006.113700000045046442.209FA4E88F9E4C878F3E9BED2CE7EA49.001.M"
    assert "should be D" in normalize_licence_id(swagger).flags[0].message


@pytest.mark.parametrize(("raw", "code"), [
    ("1.2.156.3005.3.11100000000013338W011.11430000006122244L.20230000403.001.U", "licence_id.root"),
    ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.U", "licence_id.format"),
    ("", "licence_id.missing"),
])
def test_malformed_licence_identifiers(raw: str, code: str) -> None:
    with pytest.raises(RuleViolation) as err:
        normalize_licence_id(raw)
    assert err.value.code == code


def _codes(flags: tuple) -> list[str]:
    return [f.code for f in flags]


def test_a_case_moving_in_order_within_its_limits_has_no_flags() -> None:
    seen: dict[str, int] = {}
    for day, stage in enumerate(("applied", "accepted", "approved", "completed")):
        assert check_case_stage(stage, day * DAY, seen, statutory_days=20, promised_days=5) == ()
        seen[stage] = day * DAY


def test_case_stage_order_skips_and_limits() -> None:
    seen = {"applied": 0, "accepted": DAY}
    assert _codes(check_case_stage("approved", 8 * DAY, seen, statutory_days=20, promised_days=5)) == [
        "case.over_promised_limit"]
    assert _codes(check_case_stage("approved", 25 * DAY, seen, statutory_days=20, promised_days=5)) == [
        "case.over_statutory_limit"]
    assert "case.stage_order" in _codes(check_case_stage("approved", DAY // 2, seen, statutory_days=None,
                                                         promised_days=None))
    assert _codes(check_case_stage("completed", 2 * DAY, {"applied": 0}, statutory_days=None,
                                   promised_days=None)) == ["case.stage_skipped"]
    assert "case.two_decisions" in _codes(check_case_stage("rejected", 3 * DAY, {**seen, "approved": 2 * DAY},
                                                           statutory_days=None, promised_days=None))
    assert "case.limits_inconsistent" in _codes(check_case_stage("applied", 0, {}, statutory_days=5,
                                                                 promised_days=10))


def test_a_repeated_stage_event_gets_the_same_flags_as_the_first_time() -> None:
    seen = {"applied": 0, "accepted": DAY}
    first = check_case_stage("approved", 8 * DAY, seen, statutory_days=20, promised_days=5)
    again = check_case_stage("approved", 8 * DAY, {**seen, "approved": 8 * DAY}, statutory_days=20, promised_days=5)
    assert first == again


def test_stage_names_in_chinese_and_unknown_stages() -> None:
    assert canonical_stage("受理") == "accepted" and canonical_stage(" Approved ") == "approved"
    with pytest.raises(RuleViolation) as err:
        canonical_stage("lost")
    assert err.value.code == "case.stage_unknown"


NOW = 1_800_000_000_000


@pytest.mark.parametrize(("metric", "value", "unit", "expected"), [
    ("pm25", 35, "μg/m³", (35.0, "μg/m³")), ("PM2.5", 0.035, "mg/m3", (35.0, "μg/m³")),
    ("pm25", 35, "µg/m³", (35.0, "μg/m³")),  # the micro sign, not the Greek mu
    ("temperature", 50, "℉", (10.0, "℃")), ("temperature", 293.15, "K", (20.0, "℃")),
    ("humidity", 55, "%RH", (55.0, "%")),
])
def test_sensor_units_are_normalised(metric: str, value: float, unit: str, expected: tuple) -> None:
    reading = normalize_reading(metric, value, unit, measured_ms=NOW, now_ms=NOW)
    assert (reading.value, reading.unit) == expected


@pytest.mark.parametrize(("metric", "value", "unit", "measured", "code"), [
    ("humidity", -999.0, "%", NOW, "sensor.out_of_range"), ("pm25", 5000, "μg/m³", NOW, "sensor.out_of_range"),
    ("temperature", 80, "℃", NOW, "sensor.out_of_range"), ("pm25", 30, "ppm", NOW, "sensor.unit_unknown"),
    ("radon", 1, "Bq", NOW, "sensor.metric_unknown"), ("pm25", None, "μg/m³", NOW, "sensor.value_missing"),
    ("pm25", 30, "μg/m³", NOW + 6 * 60_000, "sensor.future_timestamp"),
])
def test_impossible_readings_are_refused(metric: str, value: float, unit: str, measured: int, code: str) -> None:
    with pytest.raises(RuleViolation) as err:
        normalize_reading(metric, value, unit, measured_ms=measured, now_ms=NOW)
    assert err.value.code == code


def test_late_readings_are_kept_with_a_flag() -> None:
    reading = normalize_reading("pm25", 30, "μg/m³", measured_ms=NOW - 2 * 3_600_000, now_ms=NOW)
    assert _codes(reading.flags) == ["sensor.late"]
    assert normalize_reading("pm25", 30, "μg/m³", measured_ms=NOW + 60_000, now_ms=NOW).flags == ()
