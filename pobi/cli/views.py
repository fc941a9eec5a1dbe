"""`pobi views migrate | status | rebuild`: the ClickHouse tables and views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from pobi.cli.output import console, get_settings, print_json, print_table

if TYPE_CHECKING:
    from sinks.clickhouse.writer import ClickHouseWriter

app = typer.Typer(help="ClickHouse views: migrations and what they hold.", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Apply the migrations not yet recorded in schema_migrations (idempotent).

    Example: `pobi views migrate`
    """
    from sinks.clickhouse.migrate import apply_migrations
    from sinks.clickhouse.writer import ClickHouseWriter

    settings = get_settings()
    writer = ClickHouseWriter(settings, wait=False)
    done = apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)
    for migration in done:
        console.print(f"applied {migration.version:03d}_{migration.name}")
    console.print(f"{len(done)} migration(s) applied; database {settings.clickhouse_database} is current")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Applied migrations and the clean events per dataset. Example: `pobi views status --json`."""
    from sinks.clickhouse.queries import VIEW_QUERIES
    from sinks.clickhouse.writer import ClickHouseWriter

    settings = get_settings()
    writer = ClickHouseWriter(settings, wait=False)
    db = settings.clickhouse_database
    migrations = writer.execute(f"SELECT version, name, applied_at FROM {db}.schema_migrations ORDER BY version")
    counts = writer.execute(VIEW_QUERIES["event_counts"].replace("{db}", db))
    if as_json:
        print_json({"database": db,
                    "migrations": [{"version": v, "name": n, "applied": str(at)} for v, n, at in migrations],
                    "events": {dataset: n for dataset, n in counts}})
        return
    print_table("migrations", ["version", "name", "applied"], migrations)
    print_table("events per dataset", ["dataset", "events"], counts)


@app.command()
def rebuild(tables: list[str] = typer.Argument(None, metavar="[TABLE]...",
                                               help="derived tables to rebuild (default: all of them)"),
            dry_run: bool = typer.Option(False, "--dry-run", help="fill and compare the shadow, do not swap")) -> None:
    """Rebuild derived tables (links_in, search_tokens) from their base tables into shadow tables, compare row
    counts and swap atomically, while the worker keeps writing.

    Example: `pobi views rebuild search_tokens --dry-run`
    """
    from sinks.clickhouse.rebuild import DERIVED
    from sinks.clickhouse.writer import ClickHouseWriter

    unknown = sorted(set(tables or []) - set(DERIVED))
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: the derived tables are {', '.join(DERIVED)}",
                                 param_hint="TABLE")
    settings = get_settings()
    writer = ClickHouseWriter(settings, wait=False)
    for name in tables or list(DERIVED):
        _rebuild_one(writer, name, dry_run)


def _rebuild_one(writer: ClickHouseWriter, name: str, dry_run: bool) -> None:
    from foundation.errors import PobiError
    from sinks.clickhouse.rebuild import DERIVED, rebuild

    def fill(query: str) -> Iterator[tuple[int, int]]:
        try:
            yield from writer.client.execute_with_progress(query)
        except Exception as exc:  # the driver's own errors, turned into pobi's one line
            writer.client.disconnect()
            raise PobiError(f"rebuilding {name} failed: {str(exc).splitlines()[-1][:300]}") from None

    with console.status(f"{name}: filling {name}__shadow …") as status:
        report = rebuild(lambda q: writer.execute(q), writer.database, DERIVED[name], swap=not dry_run, fill=fill,
                         progress=lambda _step, done, total: status.update(
                             f"{name}: filling {name}__shadow … {done:,} of {total:,} base rows read"))
    verdict = (f"swapped in, then caught up on {report.caught_up_parts} part(s) written meanwhile"
               if report.swapped else "not swapped (--dry-run)")
    console.print(f"{name}: live {report.live_rows:,} rows, rebuilt {report.shadow_rows:,} rows; {verdict}")
