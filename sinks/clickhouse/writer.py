"""Writing to ClickHouse: columnar batch inserts through clickhouse-driver, retried with backoff while the
server is unreachable (the caller's stream waits; nothing is dropped), every other error raised at once."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.errors import NetworkError, ServerException, SocketTimeoutError

from foundation.connect import clickhouse_client
from foundation.errors import StoreError
from foundation.settings import Settings
from foundation.waiting import WaitOut

__all__ = ["ClickHouseWriter", "TableMissingError", "connect", "server_message"]

_UNREACHABLE = (NetworkError, SocketTimeoutError, EOFError, ConnectionError, socket.timeout, OSError)
_UNKNOWN_TABLE, _UNKNOWN_DATABASE = 60, 81


class TableMissingError(ConnectionError):
    """The table an insert names is not there: swapped by `pobi views rebuild` this instant, or not yet made by
    `pobi views migrate`. Not the records' fault: the sink waits for it as for an unreachable server."""


def connect(settings: Settings, *, query: bool = False) -> Client:
    """The writer's connection, or with ``query`` the read-only user's (object services, the demo's views)."""
    return clickhouse_client(settings, query=query, connect_timeout=3, send_receive_timeout=60,
                             settings={"max_block_size": 100_000})


class ClickHouseWriter:
    def __init__(self, settings: Settings, client: Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, *, wait: bool = True, query: bool = False) -> None:
        """``wait``: retry while the server is unreachable (the sink); otherwise fail at once (the CLI).
        ``query``: connect as the read-only query user."""
        self.database = settings.clickhouse_database
        self.address = f"{settings.clickhouse_host}:{settings.clickhouse_port}"
        self.client = client or connect(settings, query=query)
        self._wait = wait
        self.waiting = WaitOut("ClickHouse", _UNREACHABLE, before_retry=self.client.disconnect, sleep=sleep,
                               on_wait=_counted_wait() if wait else lambda _seconds: None)

    def insert(self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
        """Insert one batch, given column by column; waits out an unreachable server."""
        if not data or not data[0]:
            return
        query = f"INSERT INTO {self.database}.{table} ({', '.join(columns)}) VALUES"
        self._until_done(lambda: self.client.execute(query, list(data), columnar=True))

    @property
    def waited_s(self) -> float:
        return self.waiting.waited_s

    def execute(self, query: str, params: dict[str, Any] | None = None) -> list[Any]:
        rows: list[Any] = self._until_done(lambda: self.client.execute(query, params))
        return rows

    def _until_done(self, call: Callable[[], Any]) -> Any:
        if self._wait:
            return self.waiting(lambda: _table_there(call))
        try:
            return call()
        except ServerException as exc:
            raise StoreError(f"ClickHouse at {self.address} refused: {server_message(exc)}") from None
        except _UNREACHABLE as exc:
            self.client.disconnect()
            hint = ("its certificate is not signed by the CA in POBI_TLS_CA_FILE" if "CERTIFICATE_VERIFY" in str(exc)
                    else "is it running? (`pobi stack up`)")
            raise StoreError(f"cannot reach ClickHouse at {self.address} ({exc}); {hint}") from None


def _table_there(call: Callable[[], Any]) -> Any:
    """``call``, with a missing table or database raised as TableMissingError (waited out, like an outage)."""
    try:
        return call()
    except ServerException as exc:
        if exc.code in (_UNKNOWN_TABLE, _UNKNOWN_DATABASE):
            raise TableMissingError(server_message(exc)) from None
        raise


def server_message(exc: BaseException) -> str:
    """ClickHouse's message in one line, at most 500 characters: without clickhouse-driver's ``Code: N.`` line
    when it stands alone, and without the stack trace."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()] or [""]
    text = lines[1] if len(lines) > 1 and re.fullmatch(r"Code: \d+\.", lines[0]) else lines[0]
    return text.split(" Stack trace")[0][:500]


def _counted_wait() -> Callable[[float], None]:
    """The sink's waits, counted in its metrics (the CLI never waits, and does not import prometheus-client)."""
    from monitoring.metrics import count_wait

    return count_wait("clickhouse")
