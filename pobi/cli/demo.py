"""`pobi demo`: the newcomer's first command."""

from __future__ import annotations

import typer

from pobi.cli.output import console, get_settings, print_json


def demo(scale: int = typer.Option(1, "--scale", min=1, max=100, help="multiply the demo traffic"),
         duration: float = typer.Option(0, "--duration", min=0, max=86_400,
                                        help="then seconds of steady traffic with a live view"),
         rate: int = typer.Option(200, "--rate", min=1, max=100_000, help="events/s of the steady traffic"),
         keep_running: bool = typer.Option(False, "--keep-running", help="keep the stages running until Ctrl-C"),
         as_json: bool = typer.Option(False, "--json", help="also print the result as JSON")) -> None:
    """Start the local stack, apply topics, publish Fujian demo traffic and show where it landed.

    Example: `pobi demo --duration 60 --rate 300`
    """
    from pobi.demo.run import run_demo  # imports the stages; kept out of every other command's start-up

    result = run_demo(get_settings(), console, scale=scale, duration=duration, rate=rate, keep_running=keep_running)
    if as_json:
        print_json(result)
