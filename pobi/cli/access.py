"""`pobi access apply | list`: who may read and write what on the secure hub, from the catalogue and the
contracts in force."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from foundation.errors import PobiError
from pobi.cli.output import console, get_settings, print_json, print_table
from pobi.cli.topics import CatalogueOption, JsonOption, catalogue_paths

if TYPE_CHECKING:
    from foundation.settings import Settings

app = typer.Typer(help="Kafka users and ACLs of the secure profile, derived from the catalogue and the contracts.",
                  no_args_is_help=True)


def _secure_settings() -> Settings:
    settings = get_settings()
    if not settings.secure:
        raise PobiError("access control needs the secure profile (POBI_SECURITY=secure; `pobi stack up --secure` "
                        "writes the administrator's settings to <stack_dir>/secure.env)")
    return settings


def subscribers_in_force(settings: Settings, today: date) -> list[str]:
    """Subscribers whose contract is on the hub and not expired: only they may read a feed."""
    from topics.subscriptions import read_documents

    return sorted(name for name, document in read_documents(settings).items()
                  if date.fromisoformat(str(document["contract"]["valid_until"])) >= today)


@app.command()
def apply(catalogue: Path | None = CatalogueOption,
          rotate: list[str] = typer.Option([], "--rotate", help="give USER a new password (repeatable)"),
          dry_run: bool = typer.Option(False, "--dry-run", help="show the changes without making them"),
          as_json: bool = JsonOption) -> None:
    """Create missing users, add missing ACLs, remove those no catalogue entry or contract justifies; print
    the diff. New passwords go to owner-only files under POBI_SECRETS_DIR/kafka, never to the screen.

    Example: `pobi access apply --dry-run`
    """
    from pobi.cli.subscriptions import _today
    from topics.access_admin import apply_access
    from topics.admin import admin_client
    from topics.catalogue import load_catalogue

    settings = _secure_settings()
    subscribers = subscribers_in_force(settings, _today().date())
    wanted = load_catalogue(catalogue_paths(None, catalogue)[1])
    report = apply_access(admin_client(settings), settings, wanted, subscribers,
                          rotate=tuple(rotate), dry_run=dry_run)
    if as_json:
        print_json(report.as_dict())
        return
    verb = "would " if dry_run else ""
    for user in report.users_created:
        console.print(f"+ user {user}: {verb}create; password in {settings.password_path('kafka', user)}")
    for user in report.users_rotated:
        console.print(f"~ user {user}: {verb}get a new password in {settings.password_path('kafka', user)}")
    for user in report.users_without_file:
        console.print(f"! user {user} exists but {settings.password_path('kafka', user)} does not; "
                      f"`pobi access apply --rotate {user}` issues a new one")
    for acl in report.acls_added:
        console.print(f"+ allow {acl}", soft_wrap=True)
    for acl in report.acls_removed:
        console.print(f"- allow {acl}", soft_wrap=True)
    created, added, removed = ("to create", "to add", "to remove") if dry_run else ("created", "added", "removed")
    console.print(f"{len(report.users_created)} user(s) {created}, {len(report.acls_added)} ACL(s) {added}, "
                  f"{len(report.acls_removed)} {removed}" + (" (dry run: nothing changed)" if dry_run else ""))


@app.command("list")
def list_acls(as_json: bool = JsonOption) -> None:
    """The ACLs on the cluster, pobi's and any others.

    Example: `pobi access list --json`
    """
    from topics.access_admin import cluster_acls
    from topics.admin import admin_client

    acls = sorted(cluster_acls(admin_client(_secure_settings())))
    if as_json:
        print_json([str(a) for a in acls])
        return
    print_table("ACLs", ["principal", "operation", "resource", "name", "pattern"],
                [(a.principal, a.operation, a.resource_type.lower(), a.name, a.pattern.lower()) for a in acls])


@app.command("console-user")
def console_user(name: str = typer.Argument(..., help="the user's login name (letters, digits, '.', '_', '-')"),
                 role: str = typer.Option(..., "--role", help="viewer (protected fields partially shown) or "
                                                               "operator (in clear, and the operator's desk)")) -> None:
    """Make a console user of the secure profile: a password in a new owner-only file under
    POBI_SECRETS_DIR/console/<role>/, to be handed to its person; never printed.

    Example: `pobi access console-user clerk-01 --role viewer`
    """
    import re

    from foundation.secrets import ensure_password
    from pobi.console.access import ROLES

    if role not in ROLES:
        raise typer.BadParameter(f"one of {', '.join(ROLES)}", param_hint="--role")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise typer.BadParameter("letters, digits, '.', '_' and '-', at most 64", param_hint="NAME")
    settings = _secure_settings()
    others = [r for r in ROLES if r != role and settings.password_path(f"console/{r}", name).exists()]
    if others:
        raise PobiError(f"{name} is already a console {others[0]}; remove "
                        f"{settings.password_path(f'console/{others[0]}', name)} first")
    path = settings.password_path(f"console/{role}", name)
    made = not path.exists()
    ensure_password(settings, f"console/{role}", name)
    console.print(f"console {role} {name}: password {'written to' if made else 'already in'} {path}")
