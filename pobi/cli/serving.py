"""Serving one of pobi's HTTP applications in the foreground (`pobi gateway`, `pobi registry`)."""

from __future__ import annotations

import socket
from typing import Any

from foundation.errors import PobiError
from foundation.settings import Settings

__all__ = ["serve"]


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def serve(app: Any, settings: Settings, host: str, port: int, what: str, path: str) -> None:
    """Run ``app`` until Ctrl-C or SIGTERM; HTTPS with the stack's certificate on the secure profile."""
    import uvicorn

    if not _port_free(host, port):
        raise PobiError(f"{host}:{port} is in use (another {what}?); stop it or give --port")
    tls: dict[str, Any] = {}
    if settings.secure:
        from pobi.stack.tls import tls_files

        files = tls_files(settings)
        tls = {"ssl_certfile": str(files.server_cert), "ssl_keyfile": str(files.server_key)}
    print(f"pobi {what} on {'https' if tls else 'http'}://{host}:{port}{path} (Ctrl-C to stop)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=20,
                **tls)
