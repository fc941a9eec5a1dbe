"""The HTTP ingest gateway served in a thread of the test (the real FastAPI app on a real uvicorn server)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from foundation.settings import Settings
from pobi.gateway.app import gateway_app

__all__ = ["free_port", "running_gateway"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_gateway(settings: Settings) -> Iterator[str]:
    """The gateway's base URL while it runs."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(gateway_app(settings), host="127.0.0.1", port=port,
                                          log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
