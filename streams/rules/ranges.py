"""What the hub's own stores can hold, as pure checks the normaliser applies before a value goes further.

A value a department may legally send but a later stage cannot store (a time before 1970 in a ClickHouse
``DateTime``, an int beyond Avro's 32 bits in a ``Nullable(Int32)`` column) is refused here, with a stable
reason, instead of crashing the sink on every restart.
"""

from __future__ import annotations

from datetime import date

from streams.rules.outcome import RuleViolation

__all__ = [
    "EPOCH_MS_MAX",
    "INT32_MAX",
    "INT32_MIN",
    "MAX_DEPARTMENT",
    "MAX_EVENT_ID",
    "VIEW_DATE_MAX",
    "VIEW_DATE_MIN",
    "check_epoch_ms",
    "check_int32",
    "in_view_dates",
]

MAX_EVENT_ID = 256  # characters of an event id (a Redis key part and a ClickHouse sort key)
MAX_DEPARTMENT = 128
# ClickHouse DateTime (UInt32 seconds) ends in 2106; 2100-01-01 leaves room and covers every real event
EPOCH_MS_MAX = 4_102_444_800_000
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# ClickHouse 18.16's Date is UInt16 days since 1970
VIEW_DATE_MIN, VIEW_DATE_MAX = date(1970, 1, 1), date(2105, 12, 31)


def check_epoch_ms(ms: int, code: str, what: str) -> int:
    """``ms`` if it lies in 1970-01-01 … 2099-12-31 (UTC), else RuleViolation ``code``."""
    if not 0 <= ms < EPOCH_MS_MAX:
        raise RuleViolation(code, f"{what} {ms} ms is outside 1970-01-01 … 2099-12-31")
    return ms


def check_int32(value: int, code: str, what: str) -> int:
    """``value`` if it fits a 32-bit signed int (Avro ``int``), else RuleViolation ``code``."""
    if not INT32_MIN <= value <= INT32_MAX:
        raise RuleViolation(code, f"{what} {value} does not fit a 32-bit integer")
    return value


def in_view_dates(iso: str | None) -> bool:
    """Whether an ISO date can be stored in a ClickHouse ``Date`` column."""
    return iso is None or VIEW_DATE_MIN.isoformat() <= iso <= VIEW_DATE_MAX.isoformat()
