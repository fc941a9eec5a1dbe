"""Dates and times in the spellings departments use (shared/standards.md §6.3), as ISO dates and epoch ms.

Accepted: ``2017-12-07``, ``2017/12/07``, ``2017.12.07``, ``20171207``, ``2017年12月7日``,
``二〇一七年十二月七日``, ``2017-12-07 00:00:00``; Excel serial numbers only where a caller opts in; the
sentinels ``长期``/``永久`` (no end) as 2099-12-31 with a flag. Ambiguous ``12/07/2017`` is refused.
Times without a zone are China Standard Time (UTC+8), the zone every Fujian system writes in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from foundation.clock import CST
from streams.rules.outcome import Flag, RuleViolation
from streams.rules.text import clean_text

__all__ = ["CST", "NO_END", "DateValue", "TimeValue", "normalize_date", "normalize_datetime"]

NO_END = date(2099, 12, 31)  # how licence systems store 长期 (seen in GB/T 36903 implementations)
_OPEN_ENDED = frozenset({"长期", "永久", "长期有效", "无限期"})
_EXCEL_EPOCH = date(1899, 12, 30)
_YMD = re.compile(r"^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?(?:[ T].*)?$", re.ASCII)
_COMPACT = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$", re.ASCII)
_SERIAL = re.compile(r"^[0-9]{5}$", re.ASCII)
_AMBIGUOUS = re.compile(r"^[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}$", re.ASCII)
_HANZI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_HANZI_NUMBER = "[〇一二三四五六七八九十]{1,3}"
_HANZI_DATE = re.compile(rf"^([〇零一二三四五六七八九]{{4}})年({_HANZI_NUMBER})月({_HANZI_NUMBER})日$")


@dataclass(frozen=True)
class DateValue:
    value: date
    flags: tuple[Flag, ...] = field(default=())

    @property
    def iso(self) -> str:
        return self.value.isoformat()


@dataclass(frozen=True)
class TimeValue:
    value: datetime  # always time-zone aware
    flags: tuple[Flag, ...] = field(default=())

    @property
    def epoch_ms(self) -> int:
        return int(self.value.timestamp() * 1000)

    @property
    def iso(self) -> str:
        return self.value.isoformat(timespec="seconds")


def _hanzi_number(text: str) -> int:
    """十二 → 12, 七 → 7, 二十一 → 21, 三十 → 30."""
    if "十" not in text:
        return int("".join(str(_HANZI_DIGITS[c]) for c in text))
    tens, _, units = text.partition("十")
    return (_HANZI_DIGITS[tens] if tens else 1) * 10 + (_HANZI_DIGITS[units] if units else 0)


def _real_date(year: int, month: int, day: int, raw: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise RuleViolation("date.impossible", f"{raw!r} is not a real calendar date") from None


def normalize_date(raw: str | None, *, excel_serial: bool = False) -> DateValue | None:
    """An ISO date, None for an empty value, or RuleViolation for a date that cannot be read or does not exist."""
    if raw is not None and len(raw) == 10 and raw[4] == "-" and raw.isascii():
        try:
            return DateValue(date.fromisoformat(raw))  # the common case: already ISO
        except ValueError:
            pass  # read again below, where the error is worded
    text = clean_text(raw)
    if text is None:
        return None
    if text in _OPEN_ENDED:
        return DateValue(NO_END, (Flag("date.open_ended", f"{text!r} (no end date) stored as {NO_END}"),))
    if match := _YMD.match(text) or _COMPACT.match(text):
        return DateValue(_real_date(int(match[1]), int(match[2]), int(match[3]), text))
    if match := _HANZI_DATE.match(text):
        year = int("".join(str(_HANZI_DIGITS[c]) for c in match[1]))
        return DateValue(_real_date(year, _hanzi_number(match[2]), _hanzi_number(match[3]), text))
    if excel_serial and _SERIAL.match(text):
        value = _EXCEL_EPOCH + timedelta(days=int(text))
        return DateValue(value, (Flag("date.excel_serial", f"spreadsheet serial {text} read as {value}"),))
    if _AMBIGUOUS.match(text):
        raise RuleViolation("date.ambiguous", f"{text!r} could be day/month or month/day; send YYYY-MM-DD")
    raise RuleViolation("date.format", f"{text!r} is not a date pobi can read; send YYYY-MM-DD")


def normalize_datetime(raw: str | None) -> TimeValue | None:
    """An aware datetime (no zone given → UTC+8), None for an empty value, or RuleViolation."""
    text = clean_text(raw)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        try:
            day = normalize_date(text)  # a bare date, in any accepted spelling, is midnight that day
        except RuleViolation as exc:
            if exc.code == "date.impossible":
                raise
            day = None
        if day is None or day.flags:
            raise RuleViolation("datetime.format", f"{text!r} is not a date and time pobi can read") from None
        return TimeValue(datetime(day.value.year, day.value.month, day.value.day, tzinfo=CST))
    if value.tzinfo is None:
        value = value.replace(tzinfo=CST)
    return TimeValue(value)
