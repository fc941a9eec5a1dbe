"""Time as the hub keeps it: aware datetimes, epoch milliseconds, and China Standard Time, the zone every
Fujian system writes in (a time without a zone is read as UTC+8)."""

from __future__ import annotations

import time
from datetime import timedelta, timezone

__all__ = ["CST", "now_ms"]

CST = timezone(timedelta(hours=8))


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds."""
    return int(time.time() * 1000)
