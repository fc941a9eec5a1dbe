"""Field rules, chosen by each field's ``pobi.rule`` property in the dataset's schema.

A rule takes the raw value and the clock and returns a ``FieldResult``: the clean value, soft flags and
derived values (names of division codes, birth date and gender from an ID number). A hard failure raises
RuleViolation, which the caller attaches to the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from streams.rules.contact import normalize_phone
from streams.rules.credit_code import normalize_uscc
from streams.rules.dates import normalize_date, normalize_datetime
from streams.rules.division import normalize_division_code
from streams.rules.identity import normalize_id_number
from streams.rules.licence import normalize_licence_id
from streams.rules.outcome import Flag, RuleViolation
from streams.rules.ranges import check_epoch_ms, check_int32
from streams.rules.text import clean_text

__all__ = ["FieldResult", "RuleClock", "field_rule", "holder_kind", "int_rule", "normalize_gender",
           "normalize_holder_id", "text_rule"]


@dataclass(frozen=True)
class RuleClock:
    """The time rules judge against (today's date for ID numbers, the year for division codes)."""

    today: date
    now_ms: int


@dataclass
class FieldResult:
    value: Any
    flags: tuple[Flag, ...] = ()
    derived: dict[str, str] = field(default_factory=dict)


FieldRule = Callable[[Any, RuleClock], FieldResult]
_PERSON_HOLDERS = frozenset({"111", "person", "个人", "自然人", "公民"})
_ORGANISATION_HOLDERS = frozenset({"001", "enterprise", "organisation", "法人", "企业", "单位"})
_GENDERS = {"1": "1", "男": "1", "m": "1", "male": "1", "2": "2", "女": "2", "f": "2", "female": "2",
            "0": "0", "9": "9", "未知": "0", "未说明": "9"}


def text_rule(value: Any, _clock: RuleClock) -> FieldResult:
    return FieldResult(clean_text(value) if isinstance(value, str) else value)


def _id_number(value: Any, clock: RuleClock) -> FieldResult:
    number = normalize_id_number(value, today=clock.today)
    return FieldResult(number.value, number.flags,
                       {"birth_date": number.birth_date.isoformat(), "gender": number.gender})


def _optional(rule: FieldRule) -> FieldRule:
    """A rule for a field that may be empty: an empty value stays None instead of failing."""
    def checked(value: Any, clock: RuleClock) -> FieldResult:
        if clean_text(value) is None:
            return FieldResult(None)
        return rule(value, clock)
    return checked


def _uscc(value: Any, _clock: RuleClock) -> FieldResult:
    code = normalize_uscc(value)
    return FieldResult(code.value, code.flags, {"registered_division": code.division_code})


def _division(value: Any, clock: RuleClock) -> FieldResult:
    division = normalize_division_code(value, year=clock.today.year)
    names = {"province": division.province, "city": division.city, "county": division.county}
    return FieldResult(division.code, division.flags, {k: v for k, v in names.items() if v})


def _phone(value: Any, _clock: RuleClock) -> FieldResult:
    phone = normalize_phone(value)
    return FieldResult(None) if phone is None else FieldResult(phone.value, phone.flags, {"kind": phone.kind})


def _licence(value: Any, _clock: RuleClock) -> FieldResult:
    licence = normalize_licence_id(value)
    return FieldResult(licence.value, licence.flags, {"issuer": licence.issuer_code})


def _date(value: Any, _clock: RuleClock) -> FieldResult:
    day = normalize_date(value)
    return FieldResult(None) if day is None else FieldResult(day.iso, day.flags)


def _datetime(value: Any, _clock: RuleClock) -> FieldResult:
    moment = normalize_datetime(value)
    if moment is None:
        return FieldResult(None)
    epoch_ms = check_epoch_ms(moment.epoch_ms, "datetime.out_of_range", f"{moment.iso} is")
    return FieldResult(moment.iso, moment.flags, {"epoch_ms": str(epoch_ms)})


def int_rule(value: Any, _clock: RuleClock) -> FieldResult:
    """An Avro ``int`` field: a writer may encode any varint there, the views' Int32 columns cannot hold it."""
    if isinstance(value, int):
        check_int32(value, "value.out_of_range", "the number")
    return FieldResult(value)


def normalize_gender(value: Any, _clock: RuleClock | None = None) -> FieldResult:
    """GB/T 2261.1 codes: 1 male, 2 female, 0 unknown, 9 not stated; 男/女 and M/F accepted."""
    text = clean_text(value)
    if text is None:
        return FieldResult(None)
    code = _GENDERS.get(text.lower())
    if code is None:
        return FieldResult(None, (Flag("gender.unknown", f"{text!r} is not a gender code; left empty"),))
    return FieldResult(code)


def holder_kind(holder_type: Any) -> str | None:
    """person, enterprise, or None when the type field does not say (GB/T 36903: 111 ID number, 001 USCC)."""
    text = (clean_text(holder_type) or "").lower()
    if text in _PERSON_HOLDERS:
        return "person"
    if text in _ORGANISATION_HOLDERS:
        return "enterprise"
    return None


def normalize_holder_id(value: Any, holder_type: Any, clock: RuleClock) -> tuple[FieldResult, str]:
    """An ID number or a credit code, as the holder or applicant type says; by shape when it does not."""
    kind = holder_kind(holder_type)
    if kind is None:
        compact = (clean_text(value) or "").upper()
        kind = "person" if compact[:-1].isdigit() and len(compact) in (15, 18) else "enterprise"
    result = _id_number(value, clock) if kind == "person" else _uscc(value, clock)
    return result, kind


_RULES: dict[str | None, FieldRule] = {
    None: text_rule, "text": text_rule, "gender": normalize_gender, "phone": _phone, "date": _date,
    "datetime": _datetime, "id_number": _id_number, "uscc": _uscc, "division_code": _division,
    "licence_id": _licence,
}


def field_rule(rule: str | None, *, required: bool) -> FieldRule:
    """The function for a ``pobi.rule``; identifier rules on optional fields let an empty value through."""
    if rule == "holder_id":
        raise ValueError("holder_id depends on the holder type; use normalize_holder_id")
    found = _RULES[rule]
    if not required and rule in ("id_number", "uscc", "division_code", "licence_id"):
        return _optional(found)
    return found


def violation_on(name: str, exc: RuleViolation) -> RuleViolation:
    """The same violation, its message naming the field."""
    return RuleViolation(exc.code, f"{name}: {exc.message}")
