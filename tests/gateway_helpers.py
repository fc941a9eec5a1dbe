"""The HTTP ingest gateway served in a thread of the test (the real FastAPI app on a real uvicorn server)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from foundation.asgi import BackgroundServer
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
    with BackgroundServer(gateway_app(settings), "127.0.0.1", 0) as server:
        yield f"http://127.0.0.1:{server.port}"
