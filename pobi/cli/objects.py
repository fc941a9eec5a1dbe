"""`pobi object | timeline | search | tracker`: the object services on the command line."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer

from pobi.cli.output import console, get_settings, print_json, print_table

if TYPE_CHECKING:
    from pobi.objects import ObjectService

JsonOption = typer.Option(False, "--json", help="machine-readable output")


def _service() -> ObjectService:
    from pobi.objects import object_service

    return object_service(get_settings())


def _when(ms: int) -> str:
    from foundation.clock import CST

    return datetime.fromtimestamp(ms / 1000, CST).isoformat(timespec="seconds")


def object_(id_: str = typer.Argument(..., metavar="ID", help="ID number, credit code or licence id, any spelling"),
            as_json: bool = JsonOption) -> None:
    """The 360° view: each attribute with the department that said it last and when, and related entities.

    Example: `pobi object 350102199003071234`
    """
    view = _service().object(id_)
    if as_json:
        print_json(view)
        return
    title = f"{view['entity_type']} {view['entity_id']}" + (" (deleted)" if view["deleted"] else "")
    print_table(title, ["attribute", "value", "from", "at", "sources"],
                [(k, v["value"], v["department"], _when(v["source_ts_ms"]), ", ".join(v["sources"]))
                 for k, v in view["attributes"].items()])
    if view["derived"]:
        console.print("derived: " + "; ".join(f"{k} {v}" for k, v in view["derived"].items()), soft_wrap=True)
    if view["related"]:
        print_table("related", ["role", "type", "id", "direction", "from"],
                    [(r["role"], r["type"], r["id"], r["direction"], r["department"]) for r in view["related"]])


def timeline(id_: str = typer.Argument(..., metavar="ID"), as_json: bool = JsonOption,
             limit: int = typer.Option(200, "--limit", min=1, max=10_000)) -> None:
    """Every event about the entity, oldest first.

    Example: `pobi timeline 91350100M000100Y43 --limit 20`
    """
    view = _service().timeline(id_, limit)
    if as_json:
        print_json(view)
        return
    print_table(f"timeline of {view['entity_type']} {view['entity_id']}", ["at", "dataset", "op", "from", "flags"],
                [(_when(e["ts_ms"]), e["dataset"], e["op"], e["department"], ", ".join(e["quality_flags"]))
                 for e in view["events"]])


def search(text: str = typer.Argument(..., help="a name fragment or an id prefix"), as_json: bool = JsonOption,
           limit: int = typer.Option(20, "--limit", min=1, max=500)) -> None:
    """Entities by name fragment or id prefix; id matches first, then the newest.

    Example: `pobi search 陈 --limit 10`
    """
    found = _service().search(text, limit)
    if as_json:
        print_json(found)
        return
    print_table(f"search {text!r}", ["type", "id", "label", "matched"],
                [(f["entity_type"], f["entity_id"], f["label"], f["matched"]) for f in found])


def tracker(id_: str = typer.Argument(..., metavar="ID"), as_json: bool = JsonOption,
            limit: int = typer.Option(500, "--limit", min=1, max=100_000)) -> None:
    """Which subscribers received data about this entity: when, which fields, under which contract.

    Example: `pobi tracker 350102199003071234 --json`
    """
    view = _service().tracker(id_, limit)
    if as_json:
        print_json(view)
        return
    print_table(f"who received {view['entity_type']} {view['entity_id']}",
                ["when", "subscriber", "contract", "purpose", "fields", "mode"],
                [(_when(d["ts_ms"]), d["subscriber"], f"v{d['contract_version']}", d["purpose"],
                  ", ".join(d["fields"]), d["mode"]) for d in view["deliveries"]])
