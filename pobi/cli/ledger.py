"""`pobi ledger`: where every record went, per stage and dataset, and whether it adds up;
`pobi ledger rebuild`: the normalise stage's state made again from Kafka after Redis lost it."""

from __future__ import annotations

import typer

from foundation.errors import PobiError
from pobi.cli.output import console, get_settings, print_json, print_table

EXIT_ATTENTION = 3

app = typer.Typer(help="The ledger: in, clean, duplicate, dead letters per stage and dataset.",
                  invoke_without_command=True)


@app.callback()
def ledger(ctx: typer.Context,
           as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table")) -> None:
    """Counts of in, clean, duplicate and dead letters (by reason); exit 3 if an idle stage does not balance."""
    if ctx.invoked_subcommand is not None:
        return
    import redis

    from foundation.kafka import require_kafka
    from streams.ledger import read_ledger

    settings = get_settings()
    require_kafka(settings)  # the ledger reads the topics' offsets: one line at once if no broker answers
    try:
        rows = read_ledger(settings)
    except redis.ConnectionError as exc:
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


@app.command()
def rebuild(yes: bool = typer.Option(False, "--yes", help="rebuild without asking (the workers must be stopped)"),
            ) -> None:
    """Rebuild dedup memory, ledger and case histories of the normalise stage from norm.* and dlq.normalize,
    after Redis restarted empty or lost its latest writes. Stop every worker of the namespace first.

    Example: `pobi ledger rebuild --yes`
    """
    from schemas.registry import default_registry
    from streams.rebuild import rebuild_state

    settings = get_settings()
    if not yes and not typer.confirm(f"rebuild the normalise stage's Redis state of namespace "
                                     f"{settings.namespace or '(none)'} from Kafka?"):
        raise typer.Exit(1)
    rebuilt = rebuild_state(settings, default_registry().datasets)
    print_table("rebuilt from Kafka", ["dataset", "in", "clean", "duplicate", "dlq"],
                [(r.dataset, r.counted_in, r.clean, r.duplicate, sum(r.dlq.values())) for r in rebuilt])
    console.print("the workers may start again")
