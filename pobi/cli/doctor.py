"""`pobi doctor` and `pobi version`: what an operator asks first."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

import typer

from pobi.cli.output import console, get_settings, print_json

EXIT_ATTENTION = 3


def doctor(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Check the deployment as these settings see it: Kafka and the catalogue's topics, ClickHouse and its
    migrations and clock, Redis and its persistence, the hub key, the contracts and sources in force. One line
    per check, OK or what to do; exit 3 if any is not OK. Example: `pobi doctor --json`."""
    from pobi.doctor import run_checks

    checks = run_checks(get_settings())
    if as_json:
        print_json([c.as_dict() for c in checks])
    else:
        for check in checks:
            mark = "[green]OK[/]  " if check.ok else "[red]FAIL[/]"
            console.print(f"{mark} {check.name:<10} {check.detail}", soft_wrap=True, highlight=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(EXIT_ATTENTION)


def pobi_version() -> str:
    try:
        return package_version("pobi")
    except PackageNotFoundError:  # run from a checkout without installing it
        return "unknown"


def version() -> None:
    """pobi's version, and the versions of the services the local stack runs. Example: `pobi version`."""
    settings = get_settings()
    console.print(f"pobi {pobi_version()} (Kafka {settings.kafka_version}, Kafka Connect {settings.connect_version}, "
                  f"Debezium {settings.debezium_version})", highlight=False)
