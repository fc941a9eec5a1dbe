"""Writing to ClickHouse: columnar batch inserts through clickhouse-driver, retried with backoff while the
server is unreachable (the caller's stream waits; nothing is dropped), every other error raised at once."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.errors import NetworkError, SocketTimeoutError

from monitoring.metrics import metrics
from pobi.errors import PobiError
from pobi.settings import Settings

__all__ = ["ClickHouseWriter", "connect"]

logger = logging.getLogger(__name__)
_UNREACHABLE = (NetworkError, SocketTimeoutError, EOFError, ConnectionError, socket.timeout, OSError)


def connect(settings: Settings) -> Client:
    return Client(host=settings.clickhouse_host, port=settings.clickhouse_port, connect_timeout=3,
                  send_receive_timeout=60, settings={"max_block_size": 100_000})


class ClickHouseWriter:
    def __init__(self, settings: Settings, client: Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, *, wait: bool = True) -> None:
        """``wait``: retry while the server is unreachable (the sink); otherwise fail at once (the CLI)."""
        self.database = settings.clickhouse_database
        self.address = f"{settings.clickhouse_host}:{settings.clickhouse_port}"
        self.client = client or connect(settings)
        self._wait = wait
        self._sleep = sleep
        self.waited_s = 0.0

    def insert(self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
        """Insert one batch, given column by column; waits out an unreachable server."""
        if not data or not data[0]:
            return
        query = f"INSERT INTO {self.database}.{table} ({', '.join(columns)}) VALUES"
        self._until_done(lambda: self.client.execute(query, list(data), columnar=True))

    def execute(self, query: str, params: dict[str, Any] | None = None) -> list:
        return self._until_done(lambda: self.client.execute(query, params))

    def _until_done(self, call: Callable[[], Any]) -> Any:
        delay, started = 0.2, None
        while True:
            try:
                result = call()
            except _UNREACHABLE as exc:
                self.client.disconnect()
                if not self._wait:
                    raise PobiError(f"cannot reach ClickHouse at {self.address} ({exc}); is it running? "
                                    "(`pobi stack up`)") from None
                if started is None:
                    started = time.monotonic()
                    logger.warning("ClickHouse is unreachable (%s); the sink waits and retries", exc)
                self._sleep(delay)
                self.waited_s += delay
                metrics().waited.labels("clickhouse").inc(delay)
                delay = min(delay * 2, 5.0)
                continue
            if started is not None:
                logger.warning("ClickHouse answers again after %.1fs", time.monotonic() - started)
            return result
