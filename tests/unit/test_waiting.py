"""Waiting out a Redis outage: retries with growing delays, never answers without Redis, never hides bugs."""

import pytest
import redis

from foundation.waiting import WaitOut


def test_connection_errors_are_waited_out_with_backoff() -> None:
    slept: list[float] = []
    wait = WaitOut("Redis", (redis.ConnectionError,), clock=lambda: 0.0, sleep=slept.append)
    failures = iter([redis.ConnectionError("down")] * 6)

    def call() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "answer"

    assert wait(call) == "answer"
    assert slept == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert wait.waited_s == pytest.approx(sum(slept))


def test_other_errors_are_not_retried() -> None:
    wait = WaitOut("Redis", (redis.ConnectionError,), sleep=lambda _s: pytest.fail("must not wait for a bug"))

    def call() -> None:
        raise redis.ResponseError("WRONGTYPE")

    with pytest.raises(redis.ResponseError):
        wait(call)


def test_the_time_waited_is_handed_on_for_the_metric() -> None:
    waited: list[float] = []
    wait = WaitOut("ClickHouse", (ConnectionError,), sleep=lambda _s: None, on_wait=waited.append)
    failures = iter([ConnectionError("down")] * 3)

    def call() -> int:
        error = next(failures, None)
        if error is not None:
            raise error
        return 1

    dropped: list[int] = []
    wait._before_retry = lambda: dropped.append(1)  # a broken connection is dropped before each retry
    assert wait(call) == 1
    assert waited == [0.2, 0.4, 0.8] and len(dropped) == 3
