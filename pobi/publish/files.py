"""Publishing a whole input (a file or standard input) through an adapter, with counts of what happened.

The format and the encoding are guessed when not given (``detect``), and said. Every record ends somewhere:
on the dataset's ingest topic, in ``dlq.ingest`` with its reason and its place (``file:line``, or
``file:Sheet!row`` in a workbook), or counted as skipped. A dry run does every check, Avro encoding
included, and sends nothing.
"""

from __future__ import annotations

import io
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from foundation.errors import PobiError
from pobi.publish.adapters import (
    Draft,
    Item,
    Rejected,
    Skipped,
    load_header_mapping,
    read_csv,
    read_debezium,
    read_jsonl,
)
from pobi.publish.detect import SAMPLE_BYTES, guess_encoding, guess_format
from pobi.publish.events import EventRules, envelope_for
from pobi.publish.progress import PublishProgress
from schemas.codec import Codec
from schemas.envelope import SourceRef
from schemas.registry import SchemaRegistry
from schemas.rows import RowError
from topics.dead_letters import DeadLetter
from topics.producer import MAX_RECORD_BYTES, OversizedRecord, Publisher
from topics.sources import load_source

__all__ = ["FIRST_FAILURES", "PublishOptions", "PublishSummary", "publish_input"]

PROGRESS_MIN_BYTES = 1_000_000  # about five thousand rows
FIRST_FAILURES = 10  # the failing lines the summary lists; --errors writes all of them


@dataclass(frozen=True)
class PublishOptions:
    dataset: str
    fmt: str  # FORMATS, or "auto"
    source: SourceRef
    topic: str  # the dataset's ingest topic, as the deployment names it (settings.topics.ingest)
    dlq_topic: str  # settings.topics.dlq("ingest")
    op: str = "r"  # rows without an op are a snapshot read of the department's table
    encoding: str = "auto"
    delimiter: str = ","
    mapping: Path | None = None
    extra: str = "ignore"  # EXTRA_POLICIES: a column or field the dataset does not have
    sheet: str | None = None  # a workbook's sheet; None: every sheet with a header
    dry_run: bool = False


@dataclass
class PublishSummary:
    input: str
    dataset: str
    fmt: str = ""
    encoding: str = ""
    guessed: list[str] = field(default_factory=list)  # what was guessed, and why
    sent: int = 0
    rejected: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)  # value.from_text:<field>, row.extra_ignored:<column>
    skips: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # the first FIRST_FAILURES, as file:line: reason: message
    dry_run: bool = False
    interrupted: bool = False  # Ctrl-C: the counts say how far it got
    seconds: float = 0.0
    encode_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"input": self.input, "dataset": self.dataset, "format": self.fmt, "encoding": self.encoding,
                "guessed": self.guessed, "dry_run": self.dry_run, "interrupted": self.interrupted,
                "sent": self.sent, "rejected": self.rejected,
                "skipped": self.skipped, "reasons": dict(self.reasons), "flags": dict(self.flags),
                "skips": dict(self.skips), "first_failures": self.failures, "seconds": round(self.seconds, 3),
                "events_per_second": round(self.sent / self.seconds) if self.seconds else None,
                "encode_share": round(self.encode_seconds / self.seconds, 3) if self.seconds else None}


def _items(stream: BinaryIO, lines: Iterable[bytes], registry: SchemaRegistry, opts: PublishOptions, fmt: str,
           encoding: str) -> Iterator[Item]:
    if fmt == "jsonl":
        return read_jsonl(lines, encoding)
    if fmt == "debezium":
        source = None if opts.mapping is None else load_source(opts.mapping, registry)
        return read_debezium(lines, encoding, registry, opts.dataset, opts.source, source)
    mapping = load_header_mapping(opts.mapping, opts.dataset)
    if fmt == "excel":
        from pobi.publish.excel import read_workbook  # python-calamine: only for workbooks

        return read_workbook(stream, registry.latest(opts.dataset), mapping, opts.sheet)
    delimiter = opts.delimiter
    return read_csv(lines, registry.latest(opts.dataset), mapping, encoding, delimiter)


def _lines(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    """The input's lines, the sample read for the guesses first."""
    *whole, partial = head.split(b"\n")
    for line in whole:
        yield line + b"\n"
    rest = stream.readline()
    if partial or rest:
        yield partial + rest
    yield from stream


def _utf16_as_utf8(data: bytes, label: str) -> bytes:
    try:
        return data.decode("utf-16").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise PobiError(f"{label} starts with a UTF-16 byte-order mark but is not UTF-16 at byte {exc.start}; "
                        "give --encoding") from None


def _opened(path: Path | None) -> tuple[BinaryIO, int]:
    if path is None:
        return sys.stdin.buffer, 0
    return path.open("rb"), path.stat().st_size


class _Outcome:
    """Counts every record's fate and writes the failing ones to ``errors`` as ``file:place: reason: message``."""

    def __init__(self, summary: PublishSummary, errors: TextIO | None) -> None:
        self.summary, self.errors = summary, errors

    def rejected(self, item: Rejected) -> None:
        summary = self.summary
        summary.rejected += 1
        summary.reasons[item.reason] += 1
        line = f"{summary.input}:{item.place}: {item.reason}: {item.message}"
        if len(summary.failures) < FIRST_FAILURES:
            summary.failures.append(line)
        if self.errors is not None:
            self.errors.write(line.replace("\n", " ") + "\n")

    def skipped(self, item: Skipped) -> None:
        self.summary.skipped += 1
        self.summary.skips[f"{item.reason}:{item.sheet}" if item.sheet else item.reason] += 1


def _send(draft: Draft, publisher: Publisher | None, codec: Codec, opts: PublishOptions, rules: EventRules,
          summary: PublishSummary) -> Rejected | None:
    """Send one draft (or, in a dry run, check it as far as sending would); the refusal if there is one."""
    notes: list[str] = []
    schema = codec.registry.latest(opts.dataset)
    try:
        envelope = envelope_for(schema, draft, rules, notes)
        if publisher is None:
            value = codec.encode_own(schema, envelope)
            if len(value) > MAX_RECORD_BYTES:
                raise OversizedRecord(f"the event has {len(value):,} bytes; records over {MAX_RECORD_BYTES:,} "
                                      "cannot be published")
        else:
            publisher.send_event(opts.dataset, envelope, topic=opts.topic, checked=True)
    except RowError as problem:
        return Rejected(draft.line, draft.raw, problem.reason, problem.message, draft.sheet)
    except OversizedRecord as problem:
        return Rejected(draft.line, draft.raw, "record.too_large", str(problem), draft.sheet)
    except (ValueError, TypeError, OverflowError) as problem:  # what the Avro writer refuses
        return Rejected(draft.line, draft.raw, "value.type", str(problem)[:300], draft.sheet)
    summary.sent += 1
    summary.flags.update(notes)
    return None


def publish_input(publisher: Publisher | None, path: Path | None, opts: PublishOptions, *,
                  show_progress: bool = True, errors: TextIO | None = None) -> PublishSummary:
    """Publish every record of ``path`` (standard input when None); rejects go to the DLQ, not away.

    ``publisher`` None is a dry run: every record is checked and encoded, nothing is sent."""
    codec = publisher.codec if publisher is not None else Codec()
    label = path.name if path else "stdin"
    summary = PublishSummary(label, opts.dataset, dry_run=publisher is None)
    outcome = _Outcome(summary, errors)
    rules = EventRules(source=opts.source, label=label, op=opts.op, extra=opts.extra,
                       default_ts=int((path.stat().st_mtime if path else time.time()) * 1000))
    context = {"input": label, "department": opts.source.department, "system": opts.source.system}
    started = time.perf_counter()
    encode_before = publisher.stats.encode_seconds if publisher is not None else 0.0
    stream, size = _opened(path)
    try:
        head = stream.read(SAMPLE_BYTES)
        fmt, encoding = opts.fmt, opts.encoding
        if fmt == "auto":
            guess = guess_format(str(path) if path else None, head)
            fmt = guess.value
            summary.guessed.append(f"format {fmt}: {guess.why}")
        elif fmt != "excel" and guess_format(None, head).value == "excel":
            raise PobiError(f"{label} is a workbook, not {fmt}: give -f excel, or leave -f out")
        if encoding == "auto" and fmt != "excel":
            guess = guess_encoding(head)
            encoding = guess.value
            summary.guessed.append(f"encoding {encoding}: {guess.why}")
        summary.fmt, summary.encoding = fmt, encoding if fmt != "excel" else ""
        source: BinaryIO = stream
        if encoding == "utf-16":  # lines cannot be split on UTF-16's bytes: read it whole, as UTF-8
            source = io.BytesIO(_utf16_as_utf8(head + stream.read(), label))
            head, encoding = source.read(SAMPLE_BYTES), "utf-8"
        workbook = io.BytesIO(head + source.read()) if fmt == "excel" else source
        progress = PublishProgress(label, size, lambda: (summary.sent, summary.rejected),
                                   enabled=show_progress and size >= PROGRESS_MIN_BYTES and sys.stderr.isatty())
        context["format"] = fmt
        with progress:
            lines = progress.lines(_lines(head, source)) if fmt != "excel" else iter(())
            try:
                for item in _items(workbook, lines, codec.registry, opts, fmt, encoding):
                    if isinstance(item, Skipped):
                        outcome.skipped(item)
                        continue
                    refused = _send(item, publisher, codec, opts, rules, summary) if isinstance(item, Draft) else item
                    if refused is None:
                        continue
                    outcome.rejected(refused)
                    if publisher is not None:
                        publisher.send_dead_letter(DeadLetter(
                            "ingest", refused.reason, refused.message, refused.raw,
                            f"{label}:{refused.place}".encode(), opts.dataset,
                            context={**context, "line": refused.place}), opts.dlq_topic)
            except KeyboardInterrupt:  # Ctrl-C: what was sent stays sent; the summary says how far it got
                summary.interrupted = True
        if publisher is not None:
            publisher.flush()
    finally:
        if path:
            stream.close()
    summary.seconds = time.perf_counter() - started
    summary.encode_seconds = publisher.stats.encode_seconds - encode_before if publisher is not None else 0.0
    return summary
