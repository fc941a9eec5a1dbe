"""An ASGI application served by uvicorn on a thread of this process: the worker's object-services API, and the
gateway when the demo or a test runs it in-process. The socket is bound in ``start()`` (port 0: any free
one), so the port is known before the first request and nothing is bound by a constructor."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

__all__ = ["BackgroundServer"]


class BackgroundServer:
    def __init__(self, app: Any, host: str, port: int, *, tls: tuple[str, str] | None = None,
                 **options: Any) -> None:
        """``tls``: the server's certificate and key files (HTTPS); ``options``: more of uvicorn's Config."""
        self._app, self._host, self._port, self._tls, self._options = app, host, port, tls, options
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._socket is not None, "start() first"
        return int(self._socket.getsockname()[1])

    def start(self, timeout_s: float = 20.0) -> None:
        self._socket = socket.create_server((self._host, self._port))
        tls: dict[str, Any] = {"ssl_certfile": self._tls[0], "ssl_keyfile": self._tls[1]} if self._tls else {}
        config = uvicorn.Config(self._app, log_level="warning", access_log=False, **tls, **self._options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="pobi-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server on {self._host}:{self.port} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
