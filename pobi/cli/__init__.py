"""The `pobi` command line. Each command group lives in its own module; this one wires them together and
turns every error into one line and a non-zero exit."""

from __future__ import annotations

import logging
import os
import sys

import typer
from typer._click.exceptions import UsageError  # typer 0.29 (pinned) vendors its own click

from foundation.errors import PobiError
from pobi.cli import (
    access,
    bench,
    demo,
    dlq,
    doctor,
    gateway,
    ledger,
    objects,
    publish,
    schemas,
    sources,
    stack,
    subscribe,
    subscriptions,
    topics,
    views,
    worker,
)

__all__ = ["app", "main"]

# clickhouse-driver builds a table of every date from 1900 to 2299 when it is imported (130 ms, a third of
# `pobi object`); its lazy table computes the dates a command actually reads instead (the variable is the
# driver's own, misspelt there)
os.environ.setdefault("CLICKHOUSE_DRIVER_LASY_DATE_LUT", "1")

app = typer.Typer(
    name="pobi", help="破壁 — a real-time data hub for government change events.",
    no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None, add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(asked: bool) -> None:
    if asked:
        print(f"pobi {doctor.pobi_version()}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="print pobi's version and exit")) -> None:
    """破壁 — a real-time data hub for government change events."""


app.add_typer(stack.app, name="stack")
app.add_typer(topics.app, name="topics")
app.add_typer(schemas.app, name="schemas")
app.add_typer(dlq.app, name="dlq")
app.add_typer(subscriptions.app, name="subscriptions")
app.add_typer(sources.app, name="sources")
app.add_typer(views.app, name="views")
app.add_typer(access.app, name="access")
app.add_typer(ledger.app, name="ledger")
app.add_typer(bench.app, name="bench")
app.command("publish")(publish.publish)
app.command("demo")(demo.demo)
app.command("doctor")(doctor.doctor)
app.command("version")(doctor.version)
app.command("worker")(worker.worker)
app.command("gateway")(gateway.gateway)
app.command("registry")(gateway.registry)
app.command("subscribe")(subscribe.subscribe)
app.command("object")(objects.object_)
app.command("timeline")(objects.timeline)
app.command("search")(objects.search)
app.command("tracker")(objects.tracker)

# exit codes: 0 ok, 1 error, 2 bad command line, 3 done but something needs attention (drift, rejects)
EXIT_ERROR, EXIT_USAGE = 1, 2


def main(argv: list[str] | None = None) -> None:
    level = os.environ.get("POBI_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":  # the clients' own connection chatter: pobi says it in one sentence instead
        logging.getLogger("pobi.librdkafka").setLevel(logging.CRITICAL)
        logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)
    try:
        code = app(args=argv, prog_name="pobi", standalone_mode=False)
    except UsageError as exc:
        where = f"pobi {exc.ctx.command_path.removeprefix('pobi').strip()}".strip() if exc.ctx else "pobi"
        print(f"{where}: {exc.format_message()} (see `{where} --help`)", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except PobiError as exc:
        print(f"pobi: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except (typer.Abort, KeyboardInterrupt):
        print("pobi: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
