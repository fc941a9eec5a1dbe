"""`pobi subscriptions validate | apply | list | show | secret`: the contracts that decide what each
subscribing system receives."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from foundation.errors import PobiError
from pobi.cli.output import console, get_settings, print_changes, print_json, print_table
from pobi.cli.topics import ContractsOption, catalogue_paths

app = typer.Typer(help="Subscription contracts: validate, apply (no restart needed), list, show.",
                  no_args_is_help=True)
EXIT_ATTENTION = 3


def _today() -> datetime:
    from foundation.clock import CST

    return datetime.now(CST)


def _load(folder: Path | None) -> tuple[list[Any], list[str]]:
    from schemas.registry import default_registry
    from topics.subscriptions import load_contracts

    return load_contracts(catalogue_paths(folder, None)[0], default_registry(), _today().date(),
                          get_settings().webhook_networks)


@app.command()
def validate(contracts: Path | None = ContractsOption,
             as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Check every contract in the folder; each problem is one line `file:line: problem`. Exit 3 if any.
    Example: `pobi subscriptions validate --contracts topics/contracts --json`."""
    found, problems = _load(contracts)
    against_hub = _against_hub(found)
    problems += against_hub[1]
    if as_json:
        print_json({"compared_with_hub": against_hub[0], "valid": [
                       {"subscriber": c.subscriber, "version": c.version, "datasets": sorted(c.datasets),
                               "delivery": c.delivery, "valid_until": str(c.valid_until)} for c in found],
                    "refused": problems})
        if problems:
            raise typer.Exit(EXIT_ATTENTION)
        return
    for contract in found:
        console.print(f"ok {contract.subscriber} v{contract.version} ({', '.join(contract.datasets)}, "
                      f"{contract.delivery}, valid until {contract.valid_until})")
    for problem in problems:
        console.print(f"[red]refused[/] {problem}", soft_wrap=True)
    console.print(against_hub[0], soft_wrap=True, highlight=False)
    if problems:
        raise typer.Exit(EXIT_ATTENTION)


def _against_hub(found: list[Any]) -> tuple[str, list[str]]:
    """What `apply` would refuse given the contracts in force, when the hub answers: (a line saying whether
    the folder was compared with it, the refusals)."""
    from foundation.kafka import require_kafka
    from topics.subscriptions import read_documents, version_problems

    settings = get_settings()
    try:
        require_kafka(settings, timeout_s=3)
        current = read_documents(settings, timeout_s=5)
    except PobiError as exc:
        return f"not compared with the contracts in force: {exc}", []
    return f"compared with the {len(current)} contract(s) in force on the hub", version_problems(current, found)


@app.command()
def apply(contracts: Path | None = ContractsOption,
          dry_run: bool = typer.Option(False, "--dry-run", help="say what would change; change nothing"),
          prune: bool = typer.Option(False, "--prune", help="withdraw the contracts in force that are not in the "
                                     "folder (without it they are kept and listed)")) -> None:
    """Publish the folder's contracts to pobi.subscriptions (workers pick them up at once) and create their
    feeds. Nothing is applied if any contract is refused; a contract in force but not in the folder is
    withdrawn only with --prune. Example: `pobi subscriptions apply --dry-run`."""
    from schemas.registry import default_registry
    from topics.admin import admin_client, apply_catalogue
    from topics.subscriptions import apply_contracts, deployment_catalogue

    found, problems = _load(contracts)
    if problems:
        for problem in problems:
            console.print(f"[red]refused[/] {problem}", soft_wrap=True)
        raise PobiError(f"{len(problems)} contract(s) refused; nothing was applied")
    settings = get_settings()
    if not dry_run:
        apply_catalogue(admin_client(settings), deployment_catalogue(settings, catalogue_paths(contracts, None)[0]))
    result = apply_contracts(settings, found, default_registry(), withdraw_missing=prune, dry_run=dry_run)
    verb = "would be " if dry_run else ""
    print_changes([*(f"{verb}published {s}" for s in result.published),
                   *(f"{verb}withdrawn {s}: its deliveries stop" for s in result.withdrawn),
                   *(f"kept {s}: in force but not in the folder (--prune withdraws it)" for s in result.kept)],
                  f"{len(result.published)} {verb}published, {len(result.unchanged)} unchanged, "
                  f"{len(result.withdrawn)} {verb}withdrawn, {len(result.kept)} kept")


def _documents() -> dict[str, Any]:
    from topics.subscriptions import read_documents

    return read_documents(get_settings())


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """The contracts in force on the hub (as pobi.subscriptions holds them).

    Example: `pobi subscriptions list --json`
    """
    today = _today().date().isoformat()
    rows = [(d["contract"]["subscriber"], d["contract"]["version"], d["contract"]["delivery"],
             ", ".join(d["contract"]["datasets"]), d["contract"]["valid_until"],
             "in force" if d["contract"]["valid_until"] >= today else "expired", d["contract"]["owner_department"])
            for d in _documents().values()]
    if as_json:
        print_json([dict(zip(("subscriber", "version", "delivery", "datasets", "valid_until", "state", "owner"),
                             r, strict=True)) for r in rows])
        return
    print_table("subscription contracts", ["subscriber", "version", "delivery", "datasets", "valid until", "state",
                                           "owner"], rows)


@app.command()
def show(name: str = typer.Argument(..., help="the subscriber"),
         as_json: bool = typer.Option(False, "--json", help="the whole document, with its delivery schemas")) -> None:
    """One contract as the hub holds it.

    Example: `pobi subscriptions show fuzhou-city`
    """
    document = _documents().get(name)
    if document is None:
        raise PobiError(f"no contract for {name!r} on the hub; `pobi subscriptions list` shows those there are")
    if as_json:
        print_json(document)
        return
    contract = document["contract"]
    print_table(f"{name} v{contract['version']}", ["", ""], [
        (k, contract[k]) for k in ("owner_department", "purpose", "legal_basis", "approver", "valid_until",
                                   "delivery")])
    for dataset, grant in contract["datasets"].items():
        print_table(f"{name}: {dataset}", ["field", "mask"],
                    [(f, grant.get("masks", {}).get(f, "clear")) for f in grant["fields"]])
        if grant.get("filter"):
            console.print(f"filter: {grant['filter']}")


@app.command()
def secret(name: str = typer.Argument(..., help="the subscriber"),
           out: Path = typer.Option(..., "--out", dir_okay=False, help="a new file, written 0600")) -> None:
    """Write the subscriber's webhook signing key to a new file only its owner can read (never printed).

    Example: `pobi subscriptions secret environment-bureau --out /secure/place/key`
    """
    from foundation.secrets import hub_key, write_private
    from streams.fanout.deliver import subscriber_key

    settings = get_settings()
    if name not in _documents():
        raise PobiError(f"no contract for {name!r} on the hub")
    try:
        write_private(out, subscriber_key(hub_key(settings), name, "webhook").hex().encode() + b"\n")
    except FileExistsError:
        raise PobiError(f"{out} exists; the key is written once, to a new file") from None
    console.print(f"wrote {name}'s webhook signing key to {out} (mode 600)")
