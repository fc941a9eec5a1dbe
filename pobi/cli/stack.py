"""`pobi stack up | down | status`: the local stack of real services."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from pobi.cli.output import console, get_settings, print_json, print_table

if TYPE_CHECKING:
    from pobi.stack.manager import Stack

app = typer.Typer(help="Start, stop and inspect the local stack (Kafka, ClickHouse, Redis, Prometheus).",
                  no_args_is_help=True)



def _stack(secure: bool = False) -> Stack:
    from pobi.stack.manager import Stack

    return Stack(get_settings(), secure=secure)


@app.command()
def up(secure: bool = typer.Option(False, "--secure", help="TLS and passwords everywhere, Kafka with SASL/SCRAM "
                                   "and deny-by-default ACLs (also POBI_SECURITY=secure)")) -> None:
    """Install what is missing, start every service and wait until each one answers.

    Example: `pobi stack up --secure`
    """
    _stack(secure).up(report=console.print)


@app.command()
def down() -> None:
    """Stop the services that `pobi stack up` started (and nothing else).

    Example: `pobi stack down`
    """
    _stack().down(report=console.print)


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> int:
    """Each service's state, address and pid. Exit 3 when any service is not running.

    Example: `pobi stack status --json`
    """
    statuses = _stack().status()
    if as_json:
        print_json([s.as_dict() for s in statuses])
    else:
        print_table("pobi local stack", ["service", "state", "address", "pid", "log"],
                    [(s.name, s.state, s.address, s.pid, s.log) for s in statuses])
    return 0 if all(s.state == "running" for s in statuses) else 3
