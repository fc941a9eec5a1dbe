"""The HTTP ingest gateway served in a thread of the test (the real FastAPI app on a real uvicorn server)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from foundation.asgi import BackgroundServer
from foundation.settings import Settings
from pobi.gateway.app import gateway_app

__all__ = ["running_gateway"]


@contextmanager
def running_gateway(settings: Settings) -> Iterator[str]:
    """The gateway's base URL while it runs."""
    with BackgroundServer(gateway_app(settings), "127.0.0.1", 0) as server:
        yield f"http://127.0.0.1:{server.port}"
