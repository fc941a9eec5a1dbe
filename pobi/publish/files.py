"""Publishing a whole input (a file or standard input) through an adapter, with counts of what happened."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

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
from schemas.envelope import SourceRef, build_envelope, event_id_for
from schemas.registry import OPS, SchemaRegistry, WireSchema
from schemas.rows import RowError, check_row
from streams.rules.ranges import EPOCH_MS_MAX, MAX_EVENT_ID
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


def _envelope(schema: WireSchema, draft: Draft, opts: PublishOptions, label: str, default_ts: int) -> dict[str, Any]:
    op = draft.op or opts.op
    if op not in OPS:
        raise RowError("event.op", f"op {op!r} is not one of {', '.join(OPS)}")
    before = None if draft.before is None else check_row(schema, draft.before)
    after = None if draft.after is None else check_row(schema, draft.after)
    if op == "d" and before is None:
        raise RowError("event.shape", "a delete (op d) needs the row in 'before'")
    if op != "d" and after is None:
        raise RowError("event.shape", f"op {op} needs the row in 'after'")
    if draft.ts_ms is not None and (not isinstance(draft.ts_ms, int) or isinstance(draft.ts_ms, bool)):
        raise RowError("value.type", f"ts_ms should be epoch milliseconds, got {str(draft.ts_ms)[:40]!r}")
    if draft.ts_ms is not None and not 0 <= draft.ts_ms < EPOCH_MS_MAX:
        raise RowError("event.ts_out_of_range", f"ts_ms {draft.ts_ms} is outside 1970-01-01 … 2099-12-31")
    if draft.event_id is not None and (not isinstance(draft.event_id, str) or not draft.event_id.strip()):
        raise RowError("value.type", f"event_id should be a non-empty string, got {str(draft.event_id)[:40]!r}")
    if draft.event_id is not None and (len(draft.event_id) > MAX_EVENT_ID or not draft.event_id.isprintable()):
        raise RowError("event.id_invalid", f"event_id is longer than {MAX_EVENT_ID} characters or has control "
                       "characters")
    position = draft.position or f"{label}:{draft.line}"
    return build_envelope(
        schema, event_id=draft.event_id or event_id_for(opts.source, position, draft.raw), op=op,
        source=opts.source, position=position, ts_ms=draft.ts_ms or default_ts, before=before, after=after,
    )


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
    default_ts = int((path.stat().st_mtime if path else time.time()) * 1000)
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
                    publisher.send_event(opts.dataset, _envelope(schema, item, opts, label, default_ts), topic=topic)
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
