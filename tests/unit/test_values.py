"""Numbers as departments write them, read alike by every adapter (schemas/values.py, schemas/rows.py)."""

from __future__ import annotations

import pytest

from schemas.registry import default_registry
from schemas.rows import RowError, check_row
from schemas.values import parse_number
from tests.samples import SAMPLE_ROWS

ENTERPRISE = default_registry().latest("enterprise")
CASE = default_registry().latest("approval_case")


@pytest.mark.parametrize(("text", "kind", "unit", "expected"), [
    ("2258", "double", "万元", 2258.0), ("1,000.50", "double", None, 1000.5), ("１２３", "long", None, 123),
    ("100万元", "double", "万元", 100.0), ("100万", "double", "万元", 100.0), ("5000元", "double", "万元", 0.5),
    ("1.5亿元", "double", "万元", 15000.0), ("¥1,000", "double", "万元", 0.1), ("￥20万", "double", "万元", 20.0),
    ("-3", "int", None, -3), ("1e3", "int", None, 1000), (" 7 ", "int", None, 7), ("12,345", "long", None, 12345),
])
def test_numbers_as_written(text: str, kind: str, unit: str | None, expected: float) -> None:
    value = parse_number(text, kind, unit)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(("text", "kind", "unit"), [
    ("1,5", "double", None),  # a decimal comma, or two numbers: not fifteen
    ("12万", "double", None),  # a unit of money where the field has none
    ("¥12", "long", None), ("1.5", "int", None), ("abc", "double", None), ("nan", "double", None),
    ("inf", "double", None), ("1e400", "double", None), ("12万斤", "double", "万元"), ("", "int", None),
])
def test_what_is_not_a_number_of_the_field(text: str, kind: str, unit: str | None) -> None:
    with pytest.raises(ValueError):
        parse_number(text, kind, unit)


def test_a_number_sent_as_text_is_read_and_noted() -> None:
    notes: list[str] = []
    row = check_row(ENTERPRISE, SAMPLE_ROWS["enterprise"] | {"registered_capital": "100万元"}, notes=notes)
    assert row["registered_capital"] == 100.0 and notes == ["value.from_text:registered_capital"]
    with pytest.raises(RowError) as err:
        check_row(ENTERPRISE, SAMPLE_ROWS["enterprise"] | {"registered_capital": "a lot"})
    assert err.value.reason == "value.type" and "registered_capital" in err.value.message


def test_extra_fields_are_left_out_with_a_note_or_refused() -> None:
    notes: list[str] = []
    row = check_row(ENTERPRISE, SAMPLE_ROWS["enterprise"] | {"备注": "x"}, extra="ignore", notes=notes)
    assert "备注" not in row and notes == ["row.extra_ignored:备注"]
    with pytest.raises(RowError) as err:
        check_row(ENTERPRISE, SAMPLE_ROWS["enterprise"] | {"备注": "x"}, extra="reject")
    assert err.value.reason == "row.unknown_field"


def test_an_int_from_text_still_has_to_fit_its_type() -> None:
    with pytest.raises(RowError) as err:
        check_row(CASE, SAMPLE_ROWS["approval_case"] | {"trips": "99999999999"})
    assert err.value.reason == "value.out_of_range"
