"""`pobi sources validate | apply | list | status`: departments' databases as change data capture."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from foundation.errors import PobiError
from pobi.cli.output import console, get_settings, print_changes, print_json, print_table

app = typer.Typer(help="Change-data-capture sources (Debezium on Kafka Connect): validate, apply, list, status.",
                  no_args_is_help=True)
EXIT_ATTENTION = 3
SourcesOption = typer.Option(None, "--sources", exists=True, file_okay=False,
                             help="folder of source definitions (default: pobi's own topics/sources)")
JsonOption = typer.Option(False, "--json", help="machine-readable output")


def _load(folder: Path | None) -> tuple[list[Any], list[str]]:
    from schemas.registry import default_registry
    from topics.sources import SOURCES_DIR, load_sources

    return load_sources(folder or SOURCES_DIR, default_registry(), get_settings())


def _loaded(folder: Path | None) -> list[Any]:
    found, problems = _load(folder)
    if problems:
        for problem in problems:
            console.print(f"[red]refused[/] {problem}", soft_wrap=True)
        raise PobiError(f"{len(problems)} source definition(s) refused; nothing was applied")
    return found


@app.command()
def validate(sources: Path | None = SourcesOption) -> None:
    """Check every source definition; each problem is one line `file:line: problem`. Exit 3 if any.

    Example: `pobi sources validate --sources topics/sources`
    """
    found, problems = _load(sources)
    for source in found:
        tables = ", ".join(f"{table} → {mapping.dataset}" for table, mapping in source.tables.items())
        console.print(f"ok {source.source} ({source.department}/{source.system}: {tables})", soft_wrap=True)
    for problem in problems:
        console.print(f"[red]refused[/] {problem}", soft_wrap=True)
    if problems:
        raise typer.Exit(EXIT_ATTENTION)


@app.command()
def apply(sources: Path | None = SourcesOption,
          dry_run: bool = typer.Option(False, "--dry-run", help="say what would change; change nothing"),
          prune: bool = typer.Option(False, "--prune", help="remove pobi's connectors (with their slots) whose "
                                     "source is not in the folder; without it they are kept")) -> None:
    """Create or update one Debezium connector per source on Kafka Connect, and publish its mapping to
    pobi.sources (the worker's CDC stage follows it). Nothing is applied if any definition is refused.
    Example: `pobi sources apply --dry-run`."""
    from pobi.sources import apply_sources
    from topics.admin import admin_client, apply_catalogue
    from topics.subscriptions import deployment_catalogue

    found = _loaded(sources)
    settings = get_settings()
    if not dry_run:
        apply_catalogue(admin_client(settings), deployment_catalogue(settings))
    result = apply_sources(settings, found, remove_missing=prune, dry_run=dry_run)
    verb = "would be " if dry_run else ""
    print_changes([*(f"{verb}created {s}" for s in result.created), *(f"{verb}updated {s}" for s in result.updated),
                   *(f"{verb}removed {s}" for s in result.removed),
                   *(f"kept {s}: applied but not in the folder (--prune removes it)" for s in result.kept)],
                  f"{len(result.created)} {verb}created, {len(result.updated)} {verb}updated, "
                  f"{len(result.unchanged)} unchanged, {len(result.removed)} {verb}removed")


@app.command("list")
def list_(sources: Path | None = SourcesOption, as_json: bool = JsonOption) -> None:
    """The source definitions and where each table goes.

    Example: `pobi sources list --json`
    """
    found = _loaded(sources)
    rows = [(s.source, s.department, s.system, table, m.dataset, len(m.columns))
            for s in found for table, m in s.tables.items()]
    if as_json:
        print_json([dict(zip(("source", "department", "system", "table", "dataset", "columns"), r, strict=True))
                    for r in rows])
        return
    print_table("sources", ["source", "department", "system", "table", "dataset", "columns"], rows)


def _when(ms: int | None) -> str:
    from foundation.clock import CST

    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d %H:%M:%S")


@app.command()
def status(sources: Path | None = SourcesOption, as_json: bool = JsonOption) -> None:
    """Each source's connector state, its task states, the WAL its slot holds back, the records Debezium
    wrote and when the last change it carried was committed. Exit 3 if a connector is not running.

    Example: `pobi sources status --json`
    """
    from pobi.sources import source_status

    settings = get_settings()
    found = [source_status(settings, s) for s in _loaded(sources) if s.connection is not None]
    if as_json:
        print_json([s.as_dict() for s in found])
    else:
        print_table("sources", ["source", "connector", "state", "tasks", "slot lag", "records", "last change"],
                    [(s.source, s.connector, s.state, ",".join(s.tasks) or "-",
                      "-" if s.slot_lag_bytes is None else f"{s.slot_lag_bytes:,} B",
                      f"{sum(s.topics.values()):,}", _when(s.last_change_ts_ms)) for s in found])
        for s in found:
            if s.error:
                console.print(f"[red]{s.source}[/]: {s.error}", soft_wrap=True)
    if any(s.state != "RUNNING" or any(t != "RUNNING" for t in s.tasks) for s in found):
        raise typer.Exit(EXIT_ATTENTION)
