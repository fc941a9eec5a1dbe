"""Publishing a whole input (a file or standard input) through an adapter, with counts of what happened."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from pobi.publish.adapters import (
    Draft,
    Rejected,
    Skipped,
    load_header_mapping,
    read_csv,
    read_debezium,
    read_jsonl,
)
from pobi.publish.events import EventRules, envelope_for
from schemas.envelope import SourceRef
from schemas.registry import SchemaRegistry
from schemas.rows import RowError
from topics.dead_letters import DeadLetter
from topics.producer import OversizedRecord, Publisher
from topics.sources import load_source

__all__ = ["PublishOptions", "PublishSummary", "publish_input"]

PROGRESS_MIN_BYTES = 1_000_000  # about five thousand rows


@dataclass(frozen=True)
class PublishOptions:
    dataset: str
    fmt: str
    source: SourceRef
    topic: str  # the dataset's ingest topic, as the deployment names it (settings.topics.ingest)
    dlq_topic: str  # settings.topics.dlq("ingest")
    op: str = "r"  # rows without an op are a snapshot read of the department's table
    encoding: str = "utf-8"
    delimiter: str = ","
    mapping: Path | None = None
    extra: str = "ignore"  # EXTRA_POLICIES: a column or field the dataset does not have


@dataclass
class PublishSummary:
    input: str
    dataset: str
    sent: int = 0
    rejected: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    encode_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"input": self.input, "dataset": self.dataset, "sent": self.sent, "rejected": self.rejected,
                "skipped": self.skipped, "reasons": dict(self.reasons), "seconds": round(self.seconds, 3),
                "events_per_second": round(self.sent / self.seconds) if self.seconds else None,
                "encode_share": round(self.encode_seconds / self.seconds, 3) if self.seconds else None}


def _items(lines: Iterable[bytes], registry: SchemaRegistry,
           opts: PublishOptions) -> Iterator[Draft | Rejected | Skipped]:
    if opts.fmt == "jsonl":
        return read_jsonl(lines, opts.encoding)
    if opts.fmt == "debezium":
        source = None if opts.mapping is None else load_source(opts.mapping, registry)
        return read_debezium(lines, opts.encoding, registry, opts.dataset, opts.source, source)
    mapping = load_header_mapping(opts.mapping, opts.dataset)
    return read_csv(lines, registry.latest(opts.dataset), mapping, opts.encoding, opts.delimiter)


def _with_progress(stream: BinaryIO, size: int, label: str) -> Iterator[bytes]:
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True, console=None) as progress:
        task = progress.add_task(f"publishing {label}", total=size)
        for raw in stream:
            progress.advance(task, len(raw))
            yield raw


def publish_input(publisher: Publisher, path: Path | None, opts: PublishOptions,
                  show_progress: bool = True) -> PublishSummary:
    """Publish every record of ``path`` (standard input when None); rejects go to the DLQ, not away."""
    schema = publisher.codec.registry.latest(opts.dataset)
    label = path.name if path else "stdin"
    summary = PublishSummary(label, opts.dataset)
    rules = EventRules(source=opts.source, label=label, op=opts.op, extra=opts.extra,
                       default_ts=int((path.stat().st_mtime if path else time.time()) * 1000))
    context = {"input": label, "format": opts.fmt, "department": opts.source.department,
               "system": opts.source.system}
    topic = opts.topic
    encode_before = publisher.stats.encode_seconds
    started = time.perf_counter()
    stream = path.open("rb") if path else sys.stdin.buffer
    try:
        size = path.stat().st_size if path else 0
        lines: Iterable[bytes] = (_with_progress(stream, size, label)
                                  if show_progress and size >= PROGRESS_MIN_BYTES and sys.stderr.isatty()
                                  else stream)
        for item in _items(lines, publisher.codec.registry, opts):
            if isinstance(item, Skipped):
                summary.skipped += 1
                continue
            if isinstance(item, Draft):
                try:
                    publisher.send_event(opts.dataset, envelope_for(schema, item, rules), topic=topic)
                except RowError as problem:
                    item = Rejected(item.line, item.raw, problem.reason, problem.message)
                except OversizedRecord as problem:
                    item = Rejected(item.line, item.raw, "record.too_large", str(problem))
                except (ValueError, TypeError, OverflowError) as problem:  # what the Avro writer refuses
                    item = Rejected(item.line, item.raw, "value.type", str(problem)[:300])
                else:
                    summary.sent += 1
                    continue
            summary.rejected += 1
            summary.reasons[item.reason] += 1
            publisher.send_dead_letter(DeadLetter(
                "ingest", item.reason, item.message, item.raw, f"{label}:{item.line}".encode(), opts.dataset,
                context={**context, "line": str(item.line)}), opts.dlq_topic)
        publisher.flush()
    finally:
        if path:
            stream.close()
    summary.seconds = time.perf_counter() - started
    summary.encode_seconds = publisher.stats.encode_seconds - encode_before
    return summary
