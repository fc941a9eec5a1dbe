"""`pobi gateway`: the HTTP ingest gateway in the foreground."""

from __future__ import annotations

import socket

import typer

from foundation.errors import PobiError
from pobi.cli.output import get_settings


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def gateway(port: int = typer.Option(0, "--port", min=0, max=65535, help="0: POBI_GATEWAY_PORT (9466)"),
            host: str = typer.Option("", "--host", help="address to listen on (default: POBI_BIND_HOST)")) -> None:
    """Accept departments' rows and change events over HTTP until Ctrl-C or SIGTERM.

    Example: `pobi gateway --port 9466`, then from a department's system: curl -H 'X-Pobi-Department:
    public-security' -H 'X-Pobi-System: hukou' --data-binary @persons.jsonl
    http://127.0.0.1:9466/v1/datasets/person/events
    """
    import uvicorn

    from pobi.gateway.app import gateway_app

    settings = get_settings()
    bind, listen = host or settings.bind_host, port or settings.gateway_port
    if not _port_free(bind, listen):
        raise PobiError(f"{bind}:{listen} is in use (another gateway?); stop it or give --port")
    tls: dict[str, str] = {}
    if settings.secure:  # departments' tokens travel only over HTTPS
        from pobi.stack.tls import tls_files

        files = tls_files(settings)
        tls = {"ssl_certfile": str(files.server_cert), "ssl_keyfile": str(files.server_key)}
    print(f"pobi gateway on {'https' if tls else 'http'}://{bind}:{listen}/v1/ (Ctrl-C to stop)", flush=True)
    uvicorn.run(gateway_app(settings), host=bind, port=listen, log_level="warning", access_log=False,
                timeout_graceful_shutdown=20, **tls)  # type: ignore[arg-type]
