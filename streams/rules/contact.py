"""Mobile phone numbers and postcodes (shared/standards.md §6.1, §6.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from streams.rules.outcome import Flag, RuleViolation
from streams.rules.text import clean_text

__all__ = ["Phone", "normalize_phone", "normalize_postcode"]

_PHONE_NOISE = re.compile(r"[\s\-()（）]+")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$", re.ASCII)
_LANDLINE = re.compile(r"^0[1-9][0-9]{1,2}[2-9][0-9]{6,7}$", re.ASCII)
_POSTCODE = re.compile(r"^[0-9]{6}$", re.ASCII)
# MIIT mobile segments in use (three-digit prefixes); 134 and 174 are split finer but are in use as a whole
_SEGMENTS = frozenset(str(p) for p in (
    *range(130, 140), 145, 147, 149, 150, 151, 152, 153, 155, 156, 157, 158, 159, 162, 165, 166, 167,
    *range(170, 179), *range(180, 194), 195, 196, 197, 198, 199))


@dataclass(frozen=True)
class Phone:
    value: str
    kind: str  # "mobile" or "landline"
    flags: tuple[Flag, ...] = field(default=())


def normalize_phone(raw: str | None) -> Phone | None:
    """An 11-digit mobile number without country prefix, or a landline as 0 + area code + number."""
    text = clean_text(raw)
    if text is None:
        return None
    digits = _PHONE_NOISE.sub("", text)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix):]
            break
    if _MOBILE.match(digits):
        flags = () if digits[:3] in _SEGMENTS else (
            Flag("phone.unknown_segment", f"{digits[:3]} is not a mobile segment MIIT has assigned"),)
        return Phone(digits, "mobile", flags)
    if _LANDLINE.match(digits):
        return Phone(digits, "landline")
    raise RuleViolation("phone.format", f"{text!r} is neither an 11-digit mobile number nor a landline number")


def normalize_postcode(raw: str | None, *, numeric_source: bool = False) -> str | None:
    """Six digits; a leading zero is legal (Inner Mongolia 01xxxx). Zeros lost in a numeric column are
    restored only when the caller knows the source column was numeric."""
    text = clean_text(raw)
    if text is None:
        return None
    text = text.replace(" ", "")
    if numeric_source and text.isascii() and text.isdigit() and len(text) < 6:
        text = text.zfill(6)
    if not _POSTCODE.match(text):
        raise RuleViolation("postcode.format", f"a postcode has six digits; got {text!r}")
    return text
