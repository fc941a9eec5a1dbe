"""`pobi schemas check | list`: the versioned Avro schemas pobi ships."""

from __future__ import annotations

from pathlib import Path

import typer

from pobi.cli.output import console, print_json, print_table
from schemas.registry import SCHEMA_ROOT, SchemaRegistry

app = typer.Typer(help="Check and list pobi's Avro schemas.", no_args_is_help=True)

RootOption = typer.Option(SCHEMA_ROOT, "--root", exists=True, file_okay=False,
                          help="the schema folder (default: pobi's own)")


@app.command()
def check(root: Path = RootOption,
          as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> int:
    """Every version reads every other version's data (FULL_TRANSITIVE). Exit 3 naming what breaks.
    Example: `pobi schemas check --json`."""
    from schemas.compatibility import check_registry

    registry = SchemaRegistry(root)
    if not registry.subjects:
        raise typer.BadParameter(f"no schemas under {root}", param_hint="--root")
    problems = check_registry(registry)
    total = sum(len(registry.versions(s)) for s in registry.subjects)
    if as_json:
        print_json({"schemas": len(registry.subjects), "versions": total, "incompatibilities": problems})
        return 3 if problems else 0
    for problem in problems:
        console.print(f"[red]incompatible[/] {problem}", soft_wrap=True)
    console.print(f"{len(registry.subjects)} schemas, {total} versions: "
                  + (f"{len(problems)} incompatibilities" if problems else "all FULL_TRANSITIVE compatible"))
    return 3 if problems else 0


@app.command("list")
def list_schemas(root: Path = RootOption,
                 as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Each schema version with its fingerprint and, for datasets, the key field.

    Example: `pobi schemas list --json`
    """
    registry = SchemaRegistry(root)
    rows = [(w.subject, w.version, w.fingerprint.hex(), w.key_field if w.row else "")
            for s in registry.subjects for w in registry.versions(s)]
    if as_json:
        print_json([{"subject": s, "version": v, "fingerprint": f, "key": k or None} for s, v, f, k in rows])
    else:
        print_table("schemas", ["subject", "version", "fingerprint (CRC-64-AVRO)", "key"], rows)
