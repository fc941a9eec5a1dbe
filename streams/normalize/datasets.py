"""Checks that span several fields of one dataset's row, run after each field is clean.

Each check receives the clean row, the derived values (``field.key`` → text) and the clock, may fill or
flag fields, and raises RuleViolation for a row that cannot be kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.normalize.fields import RuleClock
from streams.rules.approval import canonical_stage
from streams.rules.outcome import Flag, RuleViolation
from streams.rules.ranges import in_view_dates
from streams.rules.sensor import normalize_reading

__all__ = ["DATASET_CHECKS", "FieldFlag"]

FieldFlag = tuple[str | None, Flag]  # the field a flag is about (None: the whole row), and the flag
DatasetCheck = Callable[[dict[str, Any], dict[str, str], RuleClock], list[FieldFlag]]


def check_person(row: dict[str, Any], derived: dict[str, str], _clock: RuleClock) -> list[FieldFlag]:
    """Gender and birth date must agree with the ID number; missing ones are taken from it."""
    flags: list[FieldFlag] = []
    for name in ("gender", "birth_date"):
        from_id = derived.get(f"id_number.{name}")
        if from_id is None:
            continue
        if row.get(name) is None:
            row[name] = from_id
            flags.append((name, Flag(f"person.{name}_from_id", f"{name} taken from the ID number")))
        elif row[name] != from_id and row[name] not in ("0", "9"):
            flags.append((name, Flag(f"person.{name}_mismatch",
                                     f"{name} {row[name]} disagrees with the ID number, which says {from_id}")))
    return flags


def check_enterprise(row: dict[str, Any], _derived: dict[str, str], clock: RuleClock) -> list[FieldFlag]:
    established = row.get("established_date")
    if established and established > clock.today.isoformat():
        return [("established_date", Flag("enterprise.established_in_future",
                                          f"established {established}, after today"))]
    return []


def check_licence(row: dict[str, Any], _derived: dict[str, str], clock: RuleClock) -> list[FieldFlag]:
    valid_from, valid_to = row.get("valid_from"), row.get("valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise RuleViolation("licence.validity_reversed", f"valid_to {valid_to} is before valid_from {valid_from}")
    flags: list[FieldFlag] = []
    if row.get("issued_date") and row["issued_date"] > clock.today.isoformat():
        flags.append(("issued_date", Flag("licence.issued_in_future", f"issued {row['issued_date']}, after today")))
    if valid_to and valid_to < clock.today.isoformat() and row.get("status") in ("有效", "valid"):
        flags.append(("status", Flag("licence.expired_but_valid", f"marked valid, but it expired on {valid_to}")))
    for name in ("issued_date", "valid_from", "valid_to"):
        if not in_view_dates(row.get(name)):
            flags.append((name, Flag("licence.date_outside_views", f"{name} {row[name]} is kept in the event; "
                                     "the licence view shows it empty (its dates run 1970–2105)")))
    return flags


def check_approval_case(row: dict[str, Any], derived: dict[str, str], _clock: RuleClock) -> list[FieldFlag]:
    """The stage is one of the known ones, and dated; its order against earlier stages is checked by the
    stage, which holds the case's history."""
    row["stage"] = canonical_stage(row.get("stage"))
    if "stage_time.epoch_ms" not in derived:
        raise RuleViolation("case.stage_time_missing", f"stage {row['stage']} has no stage_time")
    return []


def check_sensor_reading(row: dict[str, Any], derived: dict[str, str], clock: RuleClock) -> list[FieldFlag]:
    measured = derived.get("measured_at.epoch_ms")
    if measured is None:
        raise RuleViolation("sensor.measured_at_missing", "the reading has no measured_at time")
    reading = normalize_reading(row.get("metric"), row.get("value"), row.get("unit"),
                                measured_ms=int(measured), now_ms=clock.now_ms)
    row.update(metric=reading.metric, value=reading.value, unit=reading.unit)
    return [("value", flag) for flag in reading.flags]


DATASET_CHECKS: dict[str, DatasetCheck] = {
    "person": check_person, "enterprise": check_enterprise, "licence": check_licence,
    "approval_case": check_approval_case, "sensor_reading": check_sensor_reading,
}
