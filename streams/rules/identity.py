"""Resident identity numbers, GB 11643-1999 (18 characters, ISO 7064 MOD 11-2), and legacy 15-digit ones.

python-stdnum computes the check character; this module adds what a hub needs around it: cleaning,
15→18 conversion, the date and future checks, gender, and the HK/Macau/Taiwan residence-permit codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from stdnum.cn import ric

from streams.rules.division import division_known, province_known
from streams.rules.outcome import Flag, RuleViolation
from streams.rules.text import compact_identifier

__all__ = ["IdNumber", "normalize_id_number", "ric15_to_18"]

_RIC18 = re.compile(r"^[1-9][0-9]{16}[0-9X]$", re.ASCII)
_RIC15 = re.compile(r"^[1-9][0-9]{14}$", re.ASCII)
_EXCEL = re.compile(r"^[0-9]\.[0-9]+E\+1[47]$", re.ASCII)
_PERMIT_REGIONS = {"81": "香港", "82": "澳门", "83": "台湾"}


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_date: date
    gender: str  # "1" male, "2" female (GB/T 2261.1)
    flags: tuple[Flag, ...] = field(default=())

    @property
    def residence_permit_region(self) -> str | None:
        return _PERMIT_REGIONS.get(self.value[:2])


def _birth_date(digits: str) -> date:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise RuleViolation("id_number.birth_date", f"the birth date {digits} in the number is not a real date") \
            from None


def ric15_to_18(number15: str, century: str | None = None) -> str:
    """A legacy 15-digit number as its 18-character form: the century is inserted and the check added.

    Sequences 996–999 were once reserved for people over 100 (born 18xx), so their century is not guessed.
    """
    if not _RIC15.match(number15):
        raise RuleViolation("id_number.format", "a 15-digit legacy number must be 15 digits")
    if century is None:
        if number15[12:15] in ("996", "997", "998", "999"):
            raise RuleViolation("id_number.legacy_centenarian",
                                "a 15-digit number with sequence 996–999 may be a person born in the 1800s; "
                                "it needs manual review")
        century = "19"
    body = number15[:6] + century + number15[6:]
    _birth_date(body[6:14])
    return body + ric.calc_check_digit(body + "0")


def normalize_id_number(raw: str | None, *, today: date) -> IdNumber:
    """The canonical 18-character number with its birth date and gender, or RuleViolation saying why not."""
    if raw is not None and _EXCEL.match(raw.strip().upper()):
        raise RuleViolation("id_number.excel_precision_loss",
                            f"{raw.strip()!r} went through a spreadsheet and lost its last digits; "
                            "it cannot be recovered")
    value = compact_identifier(raw)
    if value is None:
        raise RuleViolation("id_number.missing", "the ID number is empty")
    flags: list[Flag] = []
    if _RIC15.match(value):
        value = ric15_to_18(value)
        flags.append(Flag("id_number.converted_from_15", "a legacy 15-digit number, converted to 18"))
    if not _RIC18.match(value):
        raise RuleViolation("id_number.format",
                            f"an ID number has 17 digits and a check digit or X; got {len(value)} characters")
    born = _birth_date(value[6:14])
    if born > today:
        raise RuleViolation("id_number.birth_date", f"the birth date {born} is in the future")
    if ric.calc_check_digit(value) != value[-1]:
        raise RuleViolation("id_number.checksum",
                            f"the check character should be {ric.calc_check_digit(value)}, not {value[-1]}")
    if value[:2] not in _PERMIT_REGIONS:
        if not province_known(value):
            raise RuleViolation("id_number.address_code",
                                f"the address code {value[:6]} names no province of GB/T 2260 ({value[:2]})")
        if not division_known(value[:6]):
            flags.append(Flag("id_number.address_unknown",
                              f"the address code {value[:6]} is not in GB/T 2260, current or historical"))
    if born.year < 1900:
        flags.append(Flag("id_number.born_before_1900", f"born {born}; valid, but rare"))
    if value[:2] in _PERMIT_REGIONS:
        flags.append(Flag("id_number.residence_permit",
                          f"a {_PERMIT_REGIONS[value[:2]]} resident's residence-permit number"))
    gender = "1" if int(value[16]) % 2 else "2"
    return IdNumber(value, born, gender, tuple(flags))
