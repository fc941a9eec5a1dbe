"""Which entity an id names, in any spelling the normaliser accepts, and what is wrong with one that fails."""

from __future__ import annotations

from datetime import date

import pytest

from foundation.errors import PobiError
from pobi.objects import resolve_id

TODAY = date(2026, 11, 26)
LICENCE = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"


@pytest.mark.parametrize(("text", "kind", "entity_id"), [
    ("350102199003071234", "person", "350102199003071234"),
    ("３５０１０２１９９００３０７１２３４", "person", "350102199003071234"),
    ("350102 1990 0307 1234 ", "person", "350102199003071234"),
    ("44011320141005001x", "person", "44011320141005001X"),
    ("350102900307123", "person", "350102199003071234"),  # 15 digits, converted
    ("91350100M000100Y43", "enterprise", "91350100M000100Y43"),
    ("91350100m000100y43", "enterprise", "91350100M000100Y43"),
    (LICENCE, "licence", LICENCE),
])
def test_every_accepted_spelling_resolves(text: str, kind: str, entity_id: str) -> None:
    assert resolve_id(text, TODAY) == (kind, entity_id)


@pytest.mark.parametrize(("text", "words"), [
    ("350102199003071235", "check character should be 4"),
    ("360426199113010079", "not a valid ID number"),
    ("91110000600037341N", "not a valid credit code"),
    ("1.2.156.3005.2.x", "not a valid licence identifier"),
    ("陈志明", "is not an ID number (18 or 15 characters), a credit code (18), a licence id"),
    ("3501021990030712", "or a case number"),  # a mistyped number is not looked up as a case
    ("", "is not an ID number"),
])
def test_a_failing_id_says_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(PobiError, match=words.replace("(", r"\(").replace(")", r"\)")):
        resolve_id(text, TODAY)


def test_an_approval_case_number_resolves_as_written() -> None:
    assert resolve_id(" FJ2026112600001 ", TODAY) == ("case", "FJ2026112600001")
    assert resolve_id("350100-XK-2026-0001", TODAY) == ("case", "350100-XK-2026-0001")
