"""Waiting out a dependency that cannot be reached (Redis, ClickHouse): the call is retried with growing
delays (0.2 s doubling to 5 s) for as long as it fails with one of the given transient errors, and never
answered without the dependency. Every other error is a bug and is raised at once. The time spent waiting is
handed to ``on_wait`` (the stages count it in ``pobi_dependency_wait_seconds_total{service}``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["WaitOut"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class WaitOut:
    def __init__(self, service: str, transient: tuple[type[BaseException], ...], *,
                 before_retry: Callable[[], None] = lambda: None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 on_wait: Callable[[float], None] = lambda _seconds: None) -> None:
        self.service = service
        self._transient = transient
        self._before_retry = before_retry  # e.g. drop a broken connection
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self.waited_s = 0.0

    def __call__(self, call: Callable[[], T]) -> T:
        delay, started = 0.2, None
        while True:
            try:
                answer = call()
            except self._transient as exc:
                self._before_retry()
                if started is None:
                    started = self._clock()
                    logger.warning("%s is unreachable (%s); the stage waits, nothing passes unchecked",
                                   self.service, exc)
                self._sleep(delay)
                self.waited_s += delay
                self._on_wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if started is not None:
                logger.warning("%s answers again after %.1fs; the stage goes on", self.service,
                               self._clock() - started)
            return answer
