"""Printing results for people (rich tables) or machines (--json)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import orjson
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from foundation.settings import Settings

__all__ = ["console", "get_settings", "print_changes", "print_json", "print_table"]

console = Console(highlight=False)


def get_settings() -> Settings:
    """The deployment's settings, imported when a command runs: pydantic-settings alone takes longer to import
    than `pobi --help` may take, so no command module imports it at load time."""
    from foundation.settings import get_settings as current

    return current()


def print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A table; on a terminal fitted to its width, otherwise (piped, redirected) at its natural width, so that
    no value is cut to "…" on its way into a file or another program."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    if console.is_terminal:
        console.print(table)
    else:
        natural = console.measure(table, options=console.options.update_width(100_000)).maximum
        Console(highlight=False, width=max(console.width, natural), file=console.file).print(table)


def print_changes(lines: Iterable[str], summary: str) -> None:
    """What an `apply` changed, a line each, then its counts."""
    for line in lines:
        console.print(line, soft_wrap=True)
    console.print(summary)
