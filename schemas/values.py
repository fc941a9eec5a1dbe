"""Numbers as departments write them: ``"2258"``, ``"1,000.50"``, ``"１２３"``, ``"100万元"``, ``"1.5亿"``.

Every adapter (JSON lines, CSV, Excel, the HTTP gateway) reads numbers through ``parse_number``, so the same
text means the same value whichever way it came. A field whose schema gives a unit (``"pobi.unit": "万元"``)
is an amount: a value written in another unit of money is converted into the field's (``500元`` → 0.05 万元).
"""

from __future__ import annotations

import math
import re
import unicodedata

__all__ = ["MONEY_UNITS", "parse_number"]

# yuan per unit; the longest spelling first, so "万元" is not read as "元"
MONEY_UNITS = {"亿元": 100_000_000, "亿": 100_000_000, "万元": 10_000, "万": 10_000, "元": 1}
_CURRENCY_PREFIXES = ("¥", "RMB", "CNY", "人民币")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$", re.ASCII)


def _plain(text: str) -> str:
    """Full-width digits and signs folded (NFKC), spaces and the Chinese comma removed."""
    return unicodedata.normalize("NFKC", text).replace(" ", "").replace("，", ",").strip()


def parse_number(text: str, base_type: str, unit: str | None = None) -> int | float:
    """``text`` as the schema's ``base_type`` (int, long, float, double), or ValueError saying why not.

    Thousands separators are understood only in groups of three (``1,000.50``), so that ``1,5`` (a decimal
    comma, or two values) is refused rather than read as fifteen. A unit of money is accepted only where the
    field has one (``unit``) and is converted into it.
    """
    value = _plain(text)
    scale = 1.0
    for prefix in _CURRENCY_PREFIXES:
        if value.upper().startswith(prefix):
            if unit not in MONEY_UNITS:
                raise ValueError(f"{text[:40]!r} is an amount of money, and this field is not one")
            value = value[len(prefix):]
            scale = 1 / MONEY_UNITS[unit]  # "¥1,000" is in yuan unless a unit follows
            break
    for spelling, yuan in MONEY_UNITS.items():
        if value.endswith(spelling):
            if unit not in MONEY_UNITS:
                raise ValueError(f"{text[:40]!r} carries a unit ({spelling}), and this field has none")
            value = value[: -len(spelling)]
            scale = yuan / MONEY_UNITS[unit]
            break
    if _GROUPED.match(value):
        value = value.replace(",", "")
    if not _NUMBER.match(value):
        raise ValueError(f"{text[:40]!r} is not a number")
    if base_type in ("int", "long"):
        if scale != 1.0 or not re.fullmatch(r"[+-]?\d+", value):
            number = float(value) * scale
            if not number.is_integer():
                raise ValueError(f"{text[:40]!r} is not a whole number")
            return int(number)
        return int(value)
    number = float(value) * scale
    if not math.isfinite(number):
        raise ValueError(f"{text[:40]!r} is not a finite number")
    return round(number, 12) if scale != 1.0 else number
