"""`pobi topics apply | list`: the topic catalogue against the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from foundation.errors import PobiError
from pobi.cli.output import get_settings, print_changes, print_json, print_table

if TYPE_CHECKING:
    from topics.admin import TopicState

app = typer.Typer(help="Create and compare the topics of pobi's catalogue.", no_args_is_help=True)

JsonOption = typer.Option(False, "--json", help="machine-readable output")
# the defaults (pobi's own files) are filled in by the commands: importing them here would slow every command
CatalogueOption = typer.Option(None, "--catalogue", exists=True, dir_okay=False,
                               help="the catalogue file to apply (default: pobi's own)")
ContractsOption = typer.Option(None, "--contracts", exists=True, file_okay=False,
                               help="subscription contracts: one out.<subscriber> feed each (default: pobi's own)")


def catalogue_paths(contracts: Path | None, catalogue: Path | None) -> tuple[Path, Path]:
    """(contracts folder, catalogue file): the ones given, or pobi's own."""
    from topics.catalogue import CATALOGUE_PATH
    from topics.subscriptions import CONTRACTS_DIR

    return contracts or CONTRACTS_DIR, catalogue or CATALOGUE_PATH


def _rows(states: list[TopicState]) -> list[tuple[object, ...]]:
    return [(s.name, s.state, s.partitions_wanted, s.partitions_found, "; ".join(s.drift)) for s in states]


def _as_json(states: list[TopicState]) -> list[dict[str, object]]:
    return [{"name": s.name, "state": s.state, "partitions_wanted": s.partitions_wanted,
             "partitions_found": s.partitions_found, "drift": list(s.drift)} for s in states]


@app.command()
def apply(as_json: bool = JsonOption, catalogue: Path | None = CatalogueOption,
          contracts: Path | None = ContractsOption) -> int:
    """Create missing topics; report drift without changing existing topics. Exit 3 on drift.

    Example: `pobi topics apply --json`
    """
    from foundation.kafka import require_kafka
    from topics.admin import admin_client, apply_catalogue
    from topics.subscriptions import deployment_catalogue

    settings = get_settings()
    require_kafka(settings)  # one sentence when Kafka does not answer, not the client's error record
    wanted = deployment_catalogue(settings, *catalogue_paths(contracts, catalogue))
    report = apply_catalogue(admin_client(settings), wanted)
    managed = [s for s in report.states if s.in_catalogue]
    if as_json:
        print_json({"created": report.created, "topics": _as_json(managed)})
    else:
        print_changes([*(f"created {name}" for name in report.created),
                       *(f"[yellow]drift[/] {s.name}: {'; '.join(s.drift)}" for s in report.drifted)],
                      f"{len(managed)} catalogue topics: {len(report.created)} created, "
                      f"{len(report.drifted)} with drift")
    return 3 if report.drifted else 0


@app.command("list")
def list_topics(as_json: bool = JsonOption, catalogue: Path | None = CatalogueOption,
                contracts: Path | None = ContractsOption) -> None:
    """Every catalogue topic and every cluster topic, side by side. The feeds are those of the contracts in
    force on the hub (or of the folder given with --contracts). Example: `pobi topics list --json`."""
    from foundation.kafka import require_kafka
    from topics.admin import admin_client, compare_catalogue
    from topics.catalogue import load_catalogue
    from topics.subscriptions import deployment_catalogue, read_documents

    settings = get_settings()
    require_kafka(settings)
    folder, path = catalogue_paths(contracts, catalogue)
    wanted = deployment_catalogue(settings, folder, path)
    if contracts is None:
        try:
            in_force = sorted(read_documents(settings, timeout_s=5))
        except PobiError:  # no contracts topic yet: the repository's example contracts it is
            in_force = None
        if in_force is not None:
            wanted = load_catalogue(path, in_force).in_namespace(settings.topics.named).replicated(
                settings.kafka_replication)
    states = compare_catalogue(admin_client(settings), wanted)
    if as_json:
        print_json(_as_json(states))
    else:
        print_table("topics: catalogue vs cluster", ["topic", "state", "wanted", "found", "drift"], _rows(states))
