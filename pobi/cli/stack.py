"""`pobi stack up | down | status`: the local stack of real services."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from pobi.cli.output import console, get_settings, print_json, print_table

if TYPE_CHECKING:
    from pobi.stack.manager import Stack

app = typer.Typer(help="Start, stop and inspect the local stack (Kafka, ClickHouse, Redis, Prometheus).",
                  no_args_is_help=True)



def _stack(secure: bool = False, brokers: int | None = None) -> Stack:
    from pobi.stack.manager import Stack

    return Stack(get_settings(), secure=secure, brokers=brokers)


@app.command()
def up(secure: bool = typer.Option(False, "--secure", help="TLS and passwords everywhere, Kafka with SASL/SCRAM "
                                   "and deny-by-default ACLs (also POBI_SECURITY=secure)"),
       brokers: int = typer.Option(1, "--brokers", help="Kafka nodes: 1, or 3 (a KRaft cluster; pobi's topics "
                                   "replicated 3 times, min.insync.replicas 2)")) -> None:
    """Install what is missing, start every service and wait until each one answers.

    Example: `pobi stack up --secure`, `pobi stack up --brokers 3`
    """
    from pobi.stack.manager import CLUSTER_SIZES

    if brokers not in CLUSTER_SIZES:
        raise typer.BadParameter(f"1 or 3, not {brokers}", param_hint="--brokers")
    _stack(secure, brokers).up(report=console.print)


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
