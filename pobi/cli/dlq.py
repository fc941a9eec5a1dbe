"""`pobi dlq list | replay`: look at dead letters and send them back through their stage."""

from __future__ import annotations

import re
import time
from datetime import datetime

import typer

from pobi.cli.output import console, get_settings, print_json, print_table

app = typer.Typer(help="Dead letters: what could not pass a stage, and replaying it after a fix.",
                  no_args_is_help=True)

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str | None) -> int | None:
    """``2h``, ``30m``, ``7d`` ago, or an ISO date/time (UTC+8 when no zone is given), as epoch ms."""
    if not text:
        return None
    if match := _RELATIVE.match(text.strip()):
        return int((time.time() - int(match[1]) * _UNIT_S[match[2]]) * 1000)
    from foundation.clock import CST

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither a duration like 2h / 30m / 7d nor an ISO date or time",
                                 param_hint="--since") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=CST)).timestamp() * 1000)


def _check_stage(stage: str | None) -> None:
    from topics.dead_letters import DLQ_STAGES

    if stage is not None and stage not in DLQ_STAGES:
        raise typer.BadParameter(f"unknown stage {stage!r}; known: {', '.join(DLQ_STAGES)}", param_hint="--stage")


@app.command("list")
def list_(stage: str | None = typer.Option(None, "--stage", help="ingest, normalize, delivery or sink"),
          reason: str | None = typer.Option(None, "--reason", help="a reason code, or its prefix (id_number)"),
          since: str | None = typer.Option(None, "--since", help="2h, 30m, 7d, or an ISO date/time"),
          limit: int = typer.Option(50, "--limit", min=1, help="show at most this many"),
          as_json: bool = typer.Option(False, "--json", help="print JSON (original bytes as hex)")) -> None:
    """Dead letters, newest first, with their reason and where they came from.

    Example: `pobi dlq list --stage normalize --reason id_number --since 2h`
    """
    from foundation.clock import CST
    from pobi.dlq import read_dead_letters

    _check_stage(stage)
    records = list(read_dead_letters(get_settings(), stage, reason, parse_since(since)))
    # newest first across partitions and stages (a topic is ordered per partition only)
    shown = sorted(records, key=lambda r: r.letter["ts_ms"], reverse=True)[:limit]
    if as_json:
        print_json([{"dlq": r.where, **{k: (v.hex() if isinstance(v, bytes) else v) for k, v in r.letter.items()}}
                    for r in shown])
        return
    print_table(f"dead letters ({len(shown)} of {len(records)})",
                ["stage", "reason", "message", "dataset", "from", "at"],
                [(r.letter["stage"], r.letter["reason"], r.letter["message"][:80], r.letter["dataset"],
                  f"{r.letter['source_topic']}[{r.letter['source_partition']}]@{r.letter['source_offset']}"
                  if r.letter["source_topic"] else r.letter["context"].get("position", ""),
                  datetime.fromtimestamp(r.letter["ts_ms"] / 1000, CST).isoformat(timespec="seconds"))
                 for r in shown])


@app.command("replay")
def replay(stage: str = typer.Option("normalize", "--stage", help="whose dead letters to replay"),
           reason: str | None = typer.Option(None, "--reason", help="only this reason code (or prefix)"),
           since: str | None = typer.Option(None, "--since", help="2h, 30m, 7d, or an ISO date/time"),
           dry_run: bool = typer.Option(False, "--dry-run", help="say what would be replayed, send nothing"),
           as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Send dead letters back through their stage (after a rule or data fix); replaying twice is harmless.

    Example: `pobi dlq replay --stage normalize --reason id_number.checksum --since 2h --dry-run`
    """
    from pobi.dlq import read_dead_letters
    from pobi.dlq import replay as replay_records

    _check_stage(stage)
    settings = get_settings()
    records = list(read_dead_letters(settings, stage, reason, parse_since(since)))
    report = replay_records(settings, records, dry_run=dry_run)
    if as_json:
        print_json({"replayed": report.replayed, "skipped": report.skipped, "dry_run": dry_run})
        return
    verb = "would replay" if dry_run else "replayed"
    console.print(f"{verb} {report.replayed} dead letters from dlq.{stage}")
    for why, count in report.skipped.items():
        console.print(f"skipped {count}: {why}")
