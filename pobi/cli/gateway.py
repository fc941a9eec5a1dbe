"""`pobi gateway` and `pobi registry`: pobi's HTTP services in the foreground."""

from __future__ import annotations

import typer

from pobi.cli.output import get_settings
from pobi.cli.serving import serve


def gateway(port: int = typer.Option(0, "--port", min=0, max=65535, help="0: POBI_GATEWAY_PORT (9466)"),
            host: str = typer.Option("", "--host", help="address to listen on (default: POBI_BIND_HOST)")) -> None:
    """Accept departments' rows and change events over HTTP until Ctrl-C or SIGTERM.

    Example: `pobi gateway --port 9466`, then from a department's system: curl -H 'X-Pobi-Department:
    public-security' -H 'X-Pobi-System: hukou' --data-binary @persons.jsonl
    http://127.0.0.1:9466/v1/datasets/person/events
    """
    from pobi.gateway.app import gateway_app

    settings = get_settings()
    serve(gateway_app(settings), settings, host or settings.bind_host, port or settings.gateway_port, "gateway",
          "/v1/")


def registry(port: int = typer.Option(0, "--port", min=0, max=65535, help="0: POBI_REGISTRY_PORT (8081)"),
             host: str = typer.Option("", "--host", help="address to listen on (default: POBI_BIND_HOST)")) -> None:
    """Serve pobi's schemas over the Schema Registry API that Confluent's clients speak, until Ctrl-C.

    Example: `pobi registry`, then `curl http://127.0.0.1:8081/subjects/ingest.person-value/versions/latest`
    """
    from pobi.registry.app import registry_app

    settings = get_settings()
    serve(registry_app(settings), settings, host or settings.bind_host, port or settings.registry_port, "registry",
          "/")
