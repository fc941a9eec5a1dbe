"""Waiting out a Redis outage: retry with backoff, never answer without Redis."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from monitoring.metrics import metrics

__all__ = ["RedisWait"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class RedisWait:
    """Runs a Redis call until it is answered. Connection errors and timeouts are waited out with backoff
    (0.2 s doubling to 5 s); every other error is a bug and raised at once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self.waited_s = 0.0  # total time spent waiting, for metrics and tests

    def __call__(self, call: Callable[[], T]) -> T:
        delay, started = 0.2, None
        while True:
            try:
                answer = call()
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
                if started is None:
                    started = self._clock()
                    logger.warning("Redis is unreachable (%s); the stage waits, nothing passes unchecked", exc)
                self._sleep(delay)
                self.waited_s += delay
                metrics().waited.labels("redis").inc(delay)
                delay = min(delay * 2, 5.0)
                continue
            if started is not None:
                logger.warning("Redis answers again after %.1fs; the stage goes on", self._clock() - started)
            return answer
