"""A table that is briefly not there (swapped by `pobi views rebuild`, or not yet migrated) is waited out by the
sink's writer like an outage — never taken for the records' fault — while the CLI's writer says so at once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from clickhouse_driver.errors import ServerException

from foundation.errors import StoreError
from foundation.settings import Settings
from sinks.clickhouse.writer import ClickHouseWriter


class Client:
    def __init__(self, failures: list[ServerException]) -> None:
        self.failures = failures
        self.calls = 0

    def execute(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return [(1,)]

    def disconnect(self) -> None:
        pass


def missing() -> ServerException:
    return ServerException("DB::Exception: Table pobi.links_in doesn't exist.", code=60)


def test_the_sink_waits_for_a_missing_table_and_then_writes() -> None:
    client = Client([missing(), missing()])
    writer = ClickHouseWriter(Settings(), client=client, sleep=lambda _s: None)  # type: ignore[arg-type]
    writer.insert("links", ["from_id"], [["x"]])
    assert client.calls == 3
    assert writer.execute("SELECT 1") == [(1,)]


def test_other_refusals_are_not_waited_for() -> None:
    client = Client([ServerException("DB::Exception: Type mismatch", code=53)])
    writer = ClickHouseWriter(Settings(), client=client, sleep=lambda _s: None)  # type: ignore[arg-type]
    with pytest.raises(ServerException):
        writer.insert("links", ["from_id"], [["x"]])
    assert client.calls == 1


def test_the_cli_says_a_table_is_missing_at_once() -> None:
    client = Client([missing()])
    writer = ClickHouseWriter(Settings(), client=client, wait=False)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=re.escape("refused: DB::Exception: Table pobi.links_in doesn't exist")):
        writer.execute("SELECT 1")


def test_a_refusal_is_one_line_of_the_server_s_words_whatever_its_shape() -> None:
    from sinks.clickhouse.writer import server_message

    assert server_message(ServerException("DB::Exception: Type mismatch. Stack trace: 0. x", code=53)) == \
        "DB::Exception: Type mismatch."
    assert server_message(ValueError("Code: 53. DB::Exception: Type mismatch in links")) == \
        "Code: 53. DB::Exception: Type mismatch in links"
    assert len(server_message(ValueError("x" * 10_000))) == 500 and server_message(ValueError()) == ""
