"""The object-services API's answers for what a client may send, with an in-memory service: pobi's words for
bad input, never a server's; 503 for a failing store; the pool gives each caller its own connection."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from foundation.errors import PobiError, StoreError
from pobi.api import ObjectApi
from pobi.objects import ConnectionPool


class Service:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.calls: list[tuple[str, Any]] = []

    def _answer(self, name: str, *args: Any) -> Any:
        self.calls.append((name, args))
        if self.fail:
            raise self.fail
        return {"name": name, "args": list(args)}

    def object(self, text: str) -> Any:
        return self._answer("object", text)

    def timeline(self, text: str, limit: int) -> Any:
        return self._answer("timeline", text, limit)

    def search(self, text: str, limit: int) -> Any:
        return self._answer("search", text, limit)

    def tracker(self, text: str, limit: int) -> Any:
        return self._answer("tracker", text, limit)


def api(service: Any) -> ObjectApi:
    return ObjectApi(service, "127.0.0.1", 0)  # bound, not started: answer() is called directly


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/timeline/350102199003071234?limit=-1", 400, "limit must be a whole number from 1 to 1000"),
    ("/timeline/350102199003071234?limit=1001", 400, "limit must be a whole number from 1 to 1000"),
    ("/search?q=陈&limit=abc", 400, "limit must be a whole number from 1 to 1000"),
    ("/object/" + "3" * 201, 400, "at most 200 characters"),
    ("/search?q=" + "陈" * 201, 400, "at most 200 characters"),
    ("/nothing", 404, "routes:"),
])
def test_bad_input_is_answered_in_pobi_s_words(path: str, status: int, words: str) -> None:
    service = Service()
    answered, body = api(service).answer(path)
    assert answered == status and words in body["error"] and service.calls == []


def test_limits_reach_the_service_bounded() -> None:
    service = Service()
    assert api(service).answer("/search?q=陈&limit=1000")[1]["args"] == ["陈", 100]  # a page of search is 100
    assert api(service).answer("/timeline/x?limit=7")[1]["args"] == ["x", 7]
    assert api(service).answer("/tracker/x")[1]["args"] == ["x", 500]


@pytest.mark.parametrize(("fail", "status", "hidden"), [
    (StoreError("ClickHouse at 127.0.0.1:9000 refused: DB::Exception: Memory limit exceeded"), 503, "DB::Exception"),
    (KeyError("a bug"), 500, "a bug"),
])
def test_a_failing_store_or_bug_does_not_show_its_text(fail: Exception, status: int, hidden: str) -> None:
    answered, body = api(Service(fail)).answer("/object/350102199003071234")
    assert answered == status and hidden not in body["error"]


def test_pobi_s_own_refusals_are_shown() -> None:
    answered, body = api(Service(PobiError("no person 350102199003071234 has passed through pobi"))).answer(
        "/object/350102199003071234")
    assert (answered, body["error"]) == (404, "no person 350102199003071234 has passed through pobi")


class Writer:
    made = 0

    def __init__(self) -> None:
        Writer.made += 1
        self.busy = threading.Lock()
        self.client = self

    def execute(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        assert self.busy.acquire(blocking=False), "two threads on one connection"
        try:
            time.sleep(0.01)
            return [(query,)]
        finally:
            self.busy.release()

    def disconnect(self) -> None:
        pass


def test_the_pool_never_shares_a_connection_and_stays_bounded() -> None:
    Writer.made = 0
    pool = ConnectionPool(Writer, size=4)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            for _ in range(10):
                assert pool("SELECT 1", {}) == [("SELECT 1",)]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and 1 <= Writer.made <= 4
