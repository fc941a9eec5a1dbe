"""`pobi publish`: a department's file (or standard input) onto ``ingest.<dataset>``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pobi.cli.output import console, get_settings, print_json
from pobi.publish import FORMATS
from schemas.registry import OPS, default_registry
from schemas.rows import EXTRA_POLICIES

if TYPE_CHECKING:
    from pobi.publish.files import PublishSummary


def _check_usage(dataset: str, fmt: str, op: str, encoding: str, delimiter: str, extra: str) -> None:
    """A bad value on the command line is a usage error: exit 2, like every other one."""
    if fmt not in (*FORMATS, "auto"):
        raise typer.BadParameter(f"one of auto, {', '.join(FORMATS)}, not {fmt!r}", param_hint="--format")
    if op not in OPS:
        raise typer.BadParameter(f"one of {', '.join(OPS)}, not {op!r}", param_hint="--op")
    if len(delimiter) != 1:
        raise typer.BadParameter(f"one character, not {delimiter!r}", param_hint="--delimiter")
    if extra not in EXTRA_POLICIES:
        raise typer.BadParameter(f"one of {', '.join(EXTRA_POLICIES)}, not {extra!r}", param_hint="--extra")
    if dataset not in default_registry().datasets:
        raise typer.BadParameter(f"no dataset {dataset!r}; pobi has {', '.join(default_registry().datasets)}",
                                 param_hint="--dataset")
    if encoding != "auto":
        try:
            "".encode(encoding)
        except LookupError:
            raise typer.BadParameter(f"no encoding {encoding!r}", param_hint="--encoding") from None


def publish(
    path: Path | None = typer.Argument(None, exists=True, dir_okay=False, help="input file; omit to read stdin"),
    dataset: str = typer.Option(..., "--dataset", "-d", help="person, enterprise, licence, approval_case, …"),
    fmt: str = typer.Option("auto", "--format", "-f", help=f"auto (from the name and content), {', '.join(FORMATS)}"),
    source_dept: str = typer.Option(..., "--source-dept", help="the publishing department, e.g. public-security"),
    system: str = typer.Option(..., "--system", help="the department's source system"),
    op: str = typer.Option("r", "--op", help="op for rows that do not carry one (c, u, d, r)"),
    encoding: str = typer.Option("auto", "--encoding", help="auto (a BOM, else UTF-8, else GB 18030), utf-8, gbk…"),
    delimiter: str = typer.Option(",", "--delimiter", help="CSV delimiter (a .tsv file: tab)"),
    mapping: Path | None = typer.Option(None, "--mapping", exists=True, dir_okay=False,
                                        help="YAML: column header -> field name, extending the shipped mapping; "
                                             "for -f debezium a source definition (topics/sources/*.yaml)"),
    sheet: str | None = typer.Option(None, "--sheet", help="a workbook's sheet (default: every sheet with a header)"),
    extra: str = typer.Option("ignore", "--extra", help="a column the dataset does not have: ignore (flagged) or "
                                                        "reject the row"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check every record, send nothing"),
    errors: Path | None = typer.Option(None, "--errors", dir_okay=False,
                                       help="write every refused record's file:line: reason here"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> int:
    """Publish rows or change events. Exit 0 when all were sent, 3 when some went to dlq.ingest.

    Example: `pobi publish 户籍.xlsx -d person --source-dept public-security --system hukou --dry-run`
    """
    _check_usage(dataset, fmt, op, encoding, delimiter, extra)
    if path is not None and path.suffix.lower() == ".tsv" and delimiter == ",":
        delimiter = "\t"
    from foundation.kafka import require_kafka
    from pobi.publish.files import PublishOptions, publish_input
    from schemas.envelope import SourceRef
    from topics.producer import Publisher  # the Kafka client: imported by the commands that use it

    settings = get_settings()
    opts = PublishOptions(dataset=dataset, fmt=fmt, source=SourceRef(source_dept, system), op=op,
                          encoding=encoding, delimiter=delimiter, mapping=mapping, extra=extra, sheet=sheet,
                          dry_run=dry_run, topic=settings.topics.ingest(dataset),
                          dlq_topic=settings.topics.dlq("ingest"))
    if not dry_run:
        require_kafka(settings, topics=(opts.topic, opts.dlq_topic))
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(errors.open("w", encoding="utf-8")) if errors else None
        publisher = None if dry_run else Publisher(settings)
        summary = publish_input(publisher, path, opts, show_progress=not as_json, errors=sink)
    if as_json:
        print_json(summary.as_dict())
    else:
        _print_summary(summary, errors)
    if summary.interrupted:
        raise typer.Exit(130)
    return 3 if summary.rejected else 0


def _print_summary(summary: PublishSummary, errors: Path | None) -> None:
    from pobi.publish.files import FIRST_FAILURES

    d = summary.as_dict()
    for guess in summary.guessed:
        console.print(f"{summary.input}: {guess}", soft_wrap=True, highlight=False)
    verb = "would send" if summary.dry_run else "sent"
    if summary.interrupted:
        console.print(f"{summary.input}: interrupted; what follows was sent before Ctrl-C", highlight=False)
    reasons = ", ".join(f"{r} {n}" for r, n in summary.reasons.most_common())
    where = "" if summary.dry_run else " to dlq.ingest"
    console.print(f"{summary.input}: {verb} {summary.sent} to ingest.{summary.dataset}, rejected "
                  f"{summary.rejected}" + (f"{where} ({reasons})" if summary.rejected else "")
                  + (f", skipped {summary.skipped} ({', '.join(summary.skips)})" if summary.skipped else "")
                  + ("" if summary.dry_run else f" in {summary.seconds:.2f}s ({d['events_per_second']} events/s)"),
                  soft_wrap=True, highlight=False)
    if summary.flags:
        console.print("  flagged: " + ", ".join(f"{flag} ×{n}" for flag, n in summary.flags.most_common(8)),
                      soft_wrap=True, highlight=False)
    for line in summary.failures:
        console.print(f"  {line}", soft_wrap=True, highlight=False, markup=False)
    if summary.rejected > FIRST_FAILURES:
        rest = f"all {summary.rejected} in {errors}" if errors else "--errors FILE writes all of them"
        console.print(f"  … {summary.rejected - FIRST_FAILURES} more ({rest})", highlight=False)
