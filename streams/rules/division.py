"""Administrative division codes, GB/T 2260, with their historical validity and names.

The versioned table is python-stdnum's ``cn/loc.dat`` (each county with the years it existed), so a code
retired in 2021 (350402 梅列区) is still recognised — it stays valid inside ID numbers and old records —
and is flagged rather than rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from stdnum import numdb

from streams.rules.outcome import Flag, RuleViolation
from streams.rules.text import compact_identifier

__all__ = ["Division", "division_known", "normalize_division_code", "province_known"]

_CODE = re.compile(r"^[1-9][0-9]{5}$", re.ASCII)
_YEARS = re.compile(r"^\[(\d{4})?-(\d{4})?\](.*)$")


@dataclass(frozen=True)
class Division:
    code: str
    province: str | None
    city: str | None
    county: str | None
    valid_to: int | None  # last year the code was in use; None while it still is
    flags: tuple[Flag, ...] = field(default=())


@lru_cache(maxsize=4096)
def _lookup(code: str) -> tuple[str | None, str | None, int | None]:
    """(province, name, last year) from stdnum's table; names come as '[1983-2021]梅列区'."""
    province = name = None
    until = None
    for _part, info in numdb.get("cn/loc").info(code):
        province = info.get("province", province)
        if "county" in info:
            match = _YEARS.match(info["county"])
            if match:
                until = int(match.group(2)) if match.group(2) else None
                name = match.group(3)
            else:
                name = info["county"]
    return province, name, until


def division_known(code: str) -> bool:
    """Whether ``code`` is in GB/T 2260, current or historical."""
    return _lookup(code)[1] is not None


def province_known(code: str) -> bool:
    """Whether the first two digits of ``code`` name a province-level division (current or historical)."""
    return _lookup(code[:2] + "0000")[1] is not None


@lru_cache(maxsize=8192)  # a province has a few hundred codes: the cache answers nearly every record
def normalize_division_code(raw: str | None, *, year: int) -> Division:
    """A six-digit code enriched with province, city and county names; unknown or retired codes are
    flagged (they may be historical), malformed ones rejected."""
    code = compact_identifier(raw)
    if code is None:
        raise RuleViolation("division_code.missing", "the division code is empty")
    if not _CODE.match(code):
        raise RuleViolation("division_code.format", f"a division code has six digits; got {code!r}")
    province, name, until = _lookup(code)
    flags: list[Flag] = []
    if name is None:
        flags.append(Flag("division_code.unknown", f"{code} is not in the GB/T 2260 table (current or historical)"))
    elif until is not None and until < year:
        flags.append(Flag("division_code.retired", f"{code} {name} was in use until {until}"))
    if code.endswith("0000"):
        return Division(code, province, None, None, until, tuple(flags))
    city = _lookup(code[:4] + "00")[1]
    if code.endswith("00"):
        return Division(code, province, name, None, until, tuple(flags))
    return Division(code, province, city, name, until, tuple(flags))
