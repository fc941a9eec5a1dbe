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
def validate(contracts: Path | None = ContractsOption) -> None:
    """Check every contract in the folder; each problem is one line `file:line: problem`. Exit 3 if any."""
    found, problems = _load(contracts)
    for contract in found:
        console.print(f"ok {contract.subscriber} v{contract.version} ({', '.join(contract.datasets)}, "
                      f"{contract.delivery}, valid until {contract.valid_until})")
    for problem in problems:
        console.print(f"[red]refused[/] {problem}", soft_wrap=True)
    if problems:
        raise typer.Exit(EXIT_ATTENTION)


@app.command()
def apply(contracts: Path | None = ContractsOption,
          keep_missing: bool = typer.Option(False, "--keep-missing",
                                            help="do not withdraw contracts that are not in the folder")) -> None:
    """Publish the folder's contracts to pobi.subscriptions (workers pick them up at once) and create their
    feeds; contracts no longer in the folder are withdrawn. Nothing is applied if any contract is refused."""
    from schemas.registry import default_registry
    from topics.admin import admin_client, apply_catalogue
    from topics.subscriptions import apply_contracts, deployment_catalogue

    found, problems = _load(contracts)
    if problems:
        for problem in problems:
            console.print(f"[red]refused[/] {problem}", soft_wrap=True)
        raise PobiError(f"{len(problems)} contract(s) refused; nothing was applied")
    settings = get_settings()
    apply_catalogue(admin_client(settings), deployment_catalogue(settings, catalogue_paths(contracts, None)[0]))
    result = apply_contracts(settings, found, default_registry(), withdraw_missing=not keep_missing)
    print_changes([*(f"published {s}" for s in result.published),
                   *(f"withdrawn {s}: its deliveries stop" for s in result.withdrawn)],
                  f"{len(result.published)} published, {len(result.unchanged)} unchanged, "
                  f"{len(result.withdrawn)} withdrawn")


def _documents() -> dict[str, Any]:
    from topics.subscriptions import read_documents

    return read_documents(get_settings())


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """The contracts in force on the hub (as pobi.subscriptions holds them)."""
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
    """One contract as the hub holds it."""
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
    """Write the subscriber's webhook signing key to a new file only its owner can read (never printed)."""
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
