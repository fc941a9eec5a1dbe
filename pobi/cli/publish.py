"""`pobi publish`: a department's file (or standard input) onto ``ingest.<dataset>``."""

from __future__ import annotations

from pathlib import Path

import typer

from pobi.cli.output import console, get_settings, print_json
from pobi.publish import FORMATS
from schemas.registry import OPS, default_registry


def publish(
    path: Path | None = typer.Argument(None, exists=True, dir_okay=False, help="input file; omit to read stdin"),
    dataset: str = typer.Option(..., "--dataset", "-d", help="person, enterprise, licence, approval_case, …"),
    fmt: str = typer.Option("jsonl", "--format", "-f", help=f"one of {', '.join(FORMATS)}"),
    source_dept: str = typer.Option(..., "--source-dept", help="the publishing department, e.g. public-security"),
    system: str = typer.Option(..., "--system", help="the department's source system"),
    op: str = typer.Option("r", "--op", help="op for rows that do not carry one (c, u, d, r)"),
    encoding: str = typer.Option("utf-8", "--encoding", help="utf-8 (a BOM is fine) or gbk"),
    delimiter: str = typer.Option(",", "--delimiter", help="CSV delimiter"),
    mapping: Path | None = typer.Option(None, "--mapping", exists=True, dir_okay=False,
                                        help="YAML: CSV column header -> field name; for -f debezium a "
                                             "source definition (topics/sources/*.yaml) mapping tables and columns"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> int:
    """Publish rows or change events. Exit 0 when all were sent, 3 when some went to dlq.ingest."""
    # a bad value on the command line is a usage error: exit 2, like every other one
    if fmt not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}, not {fmt!r}", param_hint="--format")
    if op not in OPS:
        raise typer.BadParameter(f"one of {', '.join(OPS)}, not {op!r}", param_hint="--op")
    if len(delimiter) != 1:
        raise typer.BadParameter(f"one character, not {delimiter!r}", param_hint="--delimiter")
    if dataset not in default_registry().datasets:
        raise typer.BadParameter(f"no dataset {dataset!r}; pobi has {', '.join(default_registry().datasets)}",
                                 param_hint="--dataset")
    try:
        "".encode(encoding)
    except LookupError:
        raise typer.BadParameter(f"no encoding {encoding!r}", param_hint="--encoding") from None
    from foundation.kafka import require_kafka
    from pobi.publish.files import PublishOptions, publish_input
    from schemas.envelope import SourceRef
    from topics.producer import Publisher  # the Kafka client: imported by the commands that use it

    settings = get_settings()
    opts = PublishOptions(dataset=dataset, fmt=fmt, source=SourceRef(source_dept, system), op=op,
                          encoding=encoding, delimiter=delimiter, mapping=mapping,
                          topic=settings.topics.ingest(dataset), dlq_topic=settings.topics.dlq("ingest"))
    require_kafka(settings, topics=(opts.topic, opts.dlq_topic))
    summary = publish_input(Publisher(settings), path, opts, show_progress=not as_json)
    if as_json:
        print_json(summary.as_dict())
    else:
        d = summary.as_dict()
        reasons = ", ".join(f"{r} {n}" for r, n in summary.reasons.most_common())
        console.print(f"{summary.input}: sent {summary.sent} to ingest.{dataset}, rejected {summary.rejected}"
                      + (f" to dlq.ingest ({reasons})" if summary.rejected else "")
                      + (f", skipped {summary.skipped}" if summary.skipped else "")
                      + f" in {summary.seconds:.2f}s ({d['events_per_second']} events/s)", soft_wrap=True)
    return 3 if summary.rejected else 0
