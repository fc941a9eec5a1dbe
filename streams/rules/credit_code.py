"""Unified social credit codes, GB 32100-2015, with the embedded GB 11714 organisation code.

The outer MOD 31 character is computed with python-stdnum's ``calc_check_digit``, but not judged by its
``is_valid``: that one wants positions 1–8 to be digits and so refuses every code registered by the
authorities ``A``, ``N`` and ``Y`` of GB 32100's table. Fujian issued codes before the standard settled, and
some legally issued pilot-era codes fail only that outer check (standards §2.7): those are kept with a flag
for review, not dropped — but only when the rest of the code is sound (the embedded GB 11714 body passes and
the division code exists), so that a typo elsewhere is not excused as "pilot".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stdnum.cn import uscc

from streams.rules.division import division_known
from streams.rules.outcome import Flag, RuleViolation
from streams.rules.text import compact_identifier

__all__ = ["CreditCode", "normalize_uscc", "organisation_code_valid"]

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC = re.compile(r"^[0-9A-HJ-NP-RTUWXY][0-9][0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}$", re.ASCII)
_PILOT = re.compile(r"^9[0-9]35[0-9]{4}M000", re.ASCII)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_KNOWN_TYPES = {"1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239", "6": "129", "7": "129", "8": "19",
                "9": "1239", "A": "19", "N": "1239", "Y": "1"}


@dataclass(frozen=True)
class CreditCode:
    value: str
    division_code: str  # the registering authority's GB/T 2260 code (positions 3–8)
    organisation_code: str  # GB 11714, positions 9–17
    flags: tuple[Flag, ...] = field(default=())


def organisation_code_valid(code9: str) -> bool:
    """GB 11714-1997: weights 3 7 9 10 5 8 4 2, check = 11 − sum mod 11 (10 → X, 11 → 0)."""
    total = sum(_B36.index(c) * w for c, w in zip(code9[:8], _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return code9[8] == {10: "X", 11: "0"}.get(check, str(check))


def normalize_uscc(raw: str | None) -> CreditCode:
    value = compact_identifier(raw)
    if value is None:
        raise RuleViolation("uscc.missing", "the credit code is empty")
    if len(value) != 18:
        raise RuleViolation("uscc.format", f"a credit code has 18 characters; got {len(value)}")
    if not _USCC.match(value):
        bad = sorted({c for c in value if c not in _ALPHABET})
        raise RuleViolation("uscc.format", f"characters {' '.join(bad)} are not used in credit codes (no I O Z S V)"
                            if bad else "positions 2–8 of a credit code must be digits")
    flags: list[Flag] = []
    org_ok = organisation_code_valid(value[8:17])
    expected = uscc.calc_check_digit(value)
    if expected != value[-1]:
        if org_ok and _PILOT.match(value) and division_known(value[2:8]):
            flags.append(Flag("uscc.checksum_mismatch_pilot",
                              f"a Fujian pilot-era code: its check character is {value[-1]}, the standard gives "
                              f"{expected}; kept for review against the registry"))
        else:
            raise RuleViolation("uscc.checksum", f"the check character should be {expected}, not {value[-1]}")
    elif not org_ok:
        flags.append(Flag("uscc.organisation_code", "the embedded GB 11714 organisation code fails its check"))
    if value[1] not in _KNOWN_TYPES.get(value[0], ""):
        flags.append(Flag("uscc.unknown_type", f"authority {value[0]} with organisation type {value[1]} is unusual"))
    return CreditCode(value, value[2:8], value[8:17], tuple(flags))
