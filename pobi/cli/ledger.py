"""`pobi ledger`: where every record went, per stage and dataset, and whether it adds up."""

from __future__ import annotations

import typer

from pobi.cli.output import print_json, print_table
from pobi.settings import get_settings

EXIT_ATTENTION = 3


def ledger(as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table")) -> None:
    """Counts of in, clean, duplicate and dead letters (by reason); exit 3 if an idle stage does not balance."""
    import redis

    from streams.ledger import read_ledger

    settings = get_settings()
    try:
        rows = read_ledger(settings)
    except redis.ConnectionError as exc:
        from pobi.errors import PobiError
        raise PobiError(f"cannot read the ledger from Redis at {settings.redis_host}:{settings.redis_port}: "
                        f"{exc}") from None
    if as_json:
        print_json([r.as_dict() for r in rows])
    else:
        print_table("ledger", ["stage", "dataset", "on topic", "in", "clean", "duplicate", "dlq", "dlq by reason",
                               "status"],
                    [(r.stage, r.dataset, r.on_topic, r.counts.get("in", 0), r.counts.get("clean", 0),
                      r.counts.get("duplicate", 0), r.counts.get("dlq", 0),
                      ", ".join(f"{k} {v}" for k, v in r.dlq_reasons.items()), r.status) for r in rows])
    if not all(r.balanced for r in rows):
        raise typer.Exit(EXIT_ATTENTION)
