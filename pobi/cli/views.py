"""`pobi views migrate | status`: the ClickHouse tables and views."""

from __future__ import annotations

import typer

from pobi.cli.output import console, get_settings, print_table

app = typer.Typer(help="ClickHouse views: migrations and what they hold.", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Apply the migrations not yet recorded in schema_migrations (idempotent)."""
    from sinks.clickhouse.migrate import apply_migrations
    from sinks.clickhouse.writer import ClickHouseWriter

    settings = get_settings()
    writer = ClickHouseWriter(settings, wait=False)
    done = apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)
    for migration in done:
        console.print(f"applied {migration.version:03d}_{migration.name}")
    console.print(f"{len(done)} migration(s) applied; database {settings.clickhouse_database} is current")


@app.command()
def status() -> None:
    """Applied migrations and the rows of each view."""
    from sinks.clickhouse.queries import VIEW_QUERIES
    from sinks.clickhouse.writer import ClickHouseWriter

    settings = get_settings()
    writer = ClickHouseWriter(settings, wait=False)
    db = settings.clickhouse_database
    print_table("migrations", ["version", "name", "applied"],
                writer.execute(f"SELECT version, name, applied_at FROM {db}.schema_migrations ORDER BY version"))
    print_table("events per dataset", ["dataset", "events"],
                writer.execute(VIEW_QUERIES["event_counts"].replace("{db}", db)))
