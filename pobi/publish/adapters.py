"""Input adapters: the formats departments already have, read into drafts of change events.

Each adapter yields, per input record, either a ``Draft`` (a row or change event that may become an
envelope) or a ``Rejected`` (the raw bytes, where they were, and why). Nothing is dropped without a trace:
a record that cannot be read at all is a ``Rejected`` that the publisher sends to ``dlq.ingest``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from foundation.errors import ConfigError
from pobi.publish import FORMATS
from schemas.registry import OPS, WireSchema
from schemas.rows import RowError, coerce_text_row

__all__ = [
    "FORMATS", "Draft", "Rejected", "Skipped", "decoded_lines", "load_header_mapping", "read_csv",
    "read_debezium", "read_jsonl",
]

CSV_FIELD_LIMIT = 8 * 1024 * 1024  # a cell beyond this is refused (csv.malformed); below it, the record's size
MAX_ORIGINAL_BYTES = 256 * 1024
MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "mappings"
_DEBEZIUM_POSITION_KEYS = ("connector", "name", "db", "schema", "table", "lsn", "file", "pos", "row", "gtid",
                           "txId", "change_lsn", "commit_lsn", "event_serial_no")


@dataclass(frozen=True)
class Draft:
    """A record read from the input; ``op``/``event_id``/``position``/``ts_ms`` are None when the input
    does not say, and the publisher fills them in. The department and system always come from the
    publisher (``--source-dept``, ``--system``), never from the file, so a file cannot speak for another
    department."""

    line: int
    raw: bytes
    before: Any
    after: Any
    op: str | None = None
    event_id: str | None = None
    position: str | None = None
    ts_ms: int | None = None


@dataclass(frozen=True)
class Rejected:
    line: int
    raw: bytes
    reason: str
    message: str


@dataclass(frozen=True)
class Skipped:
    """Read and deliberately not published (a Debezium tombstone); counted, not dead-lettered."""

    line: int
    reason: str


Item = Draft | Rejected | Skipped


def decoded_lines(raw_lines: Iterable[bytes], encoding: str) -> Iterator[tuple[int, bytes, str | Rejected]]:
    """(line number, raw bytes, text) per line; a line that does not decode becomes a Rejected.

    A UTF-8 byte-order mark on the first line is dropped. ``encoding`` ``gbk`` reads GB 18030, its superset.
    """
    codec = "gb18030" if encoding.lower() in ("gbk", "gb2312", "gb18030") else encoding
    for number, raw in enumerate(raw_lines, start=1):
        body = raw.rstrip(b"\r\n")
        if number == 1 and body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        try:
            text = body.decode(codec)
        except UnicodeDecodeError as exc:
            hint = " (the file may be GBK: try --encoding gbk)" if codec.startswith("utf") else ""
            yield number, body, Rejected(number, body, "encoding.invalid",
                                         f"line is not valid {encoding} at byte {exc.start}{hint}")
            continue
        yield number, body, text


def _json_records(raw_lines: Iterable[bytes], encoding: str) -> Iterator[tuple[int, bytes, Any]]:
    """(line number, raw bytes, parsed JSON or Rejected) for every non-blank line."""
    for number, raw, text in decoded_lines(raw_lines, encoding):
        if isinstance(text, Rejected):
            yield number, raw, text
        elif text.strip():
            try:
                yield number, raw, orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield number, raw, Rejected(number, raw, "json.malformed", f"not valid JSON: {exc}")


def read_jsonl(raw_lines: Iterable[bytes], encoding: str = "utf-8") -> Iterator[Item]:
    """One row per line, or one whole pobi envelope per line (it has ``op`` and ``after``/``before``)."""
    for number, raw, obj in _json_records(raw_lines, encoding):
        if isinstance(obj, Rejected):
            yield obj
        elif isinstance(obj, dict) and "op" in obj and ("after" in obj or "before" in obj):
            source: dict[str, Any] = obj["source"] if isinstance(obj.get("source"), dict) else {}
            yield Draft(number, raw, obj.get("before"), obj.get("after"), op=obj.get("op"),
                        event_id=obj.get("event_id"), position=source.get("position"), ts_ms=obj.get("ts_ms"))
        else:
            yield Draft(number, raw, None, obj)


def read_debezium(raw_lines: Iterable[bytes], encoding: str = "utf-8") -> Iterator[Item]:
    """Debezium JSON change events, with or without the ``schema``/``payload`` wrapper."""
    for number, raw, obj in _json_records(raw_lines, encoding):
        if isinstance(obj, Rejected):
            yield obj
            continue
        payload = obj.get("payload", obj) if isinstance(obj, dict) and "payload" in obj else obj
        if payload is None:
            yield Skipped(number, "debezium.tombstone")
            continue
        if not isinstance(payload, dict) or "op" not in payload:
            yield Rejected(number, raw, "debezium.not_change_event",
                           "expected a Debezium change event with payload.op, before and after")
            continue
        op = payload["op"]
        if op not in OPS:
            yield Rejected(number, raw, "debezium.op",
                           f"op {op!r} is not a row change (c, u, d or r) and cannot be published")
            continue
        source: dict[str, Any] = payload["source"] if isinstance(payload.get("source"), dict) else {}
        parts = [f"{k}={source[k]}" for k in _DEBEZIUM_POSITION_KEYS if source.get(k) is not None]
        ts = payload.get("ts_ms") or source.get("ts_ms")
        yield Draft(number, raw, payload.get("before"), payload.get("after"), op=op,
                    position="debezium:" + ",".join(parts) if parts else None,
                    ts_ms=int(ts) if isinstance(ts, int | float) else None)


def load_header_mapping(path: Path | None, dataset: str) -> dict[str, str]:
    """Column header → field name. The given file, else the shipped ``<dataset>.zh.yaml`` if any."""
    candidate = path or MAPPINGS_DIR / f"{dataset}.zh.yaml"
    if not candidate.exists():
        if path is not None:
            raise ConfigError(f"mapping file {path} does not exist")
        return {}
    try:
        mapping = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read mapping file {candidate}: {exc}") from exc
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in mapping.items()):
        raise ConfigError(f"mapping file {candidate} must map column headers to field names, one per line")
    return mapping


def read_csv(raw_lines: Iterable[bytes], schema: WireSchema, mapping: dict[str, str],
             encoding: str = "utf-8", delimiter: str = ",") -> Iterator[Item]:
    """A header row of field names (or headers the mapping translates), then one row per record; text
    cells become the schema's types ('' is null)."""
    key_field = schema.key_field
    pending: list[Item] = []
    consumed: list[bytes] = []

    def text_lines() -> Iterator[str]:
        for _number, raw, text in decoded_lines(raw_lines, encoding):
            if isinstance(text, Rejected):
                pending.append(text)
                continue
            consumed.append(raw)
            yield text

    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    reader = csv.reader(text_lines(), delimiter=delimiter)
    header: list[str] | None = None
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a cell beyond the limit, a NUL byte…: this record only
            yield from pending
            pending.clear()
            yield Rejected(reader.line_num, b"\n".join(consumed)[:MAX_ORIGINAL_BYTES], "csv.malformed", str(exc))
            consumed.clear()
            continue
        yield from pending
        pending.clear()
        raw, line = b"\n".join(consumed), reader.line_num
        consumed.clear()
        if header is None:
            header = [mapping.get(c.strip(), c.strip()) for c in cells]
            if key_field not in header:
                seen = delimiter.join(cells)[:80]
                problem = (f"the header has no column {key_field!r} (found {seen!r}); is the delimiter "
                           f"{delimiter!r}? use --delimiter, or --mapping for other column names")
                for _cells in reader:
                    yield from pending
                    pending.clear()
                    yield Rejected(reader.line_num, b"\n".join(consumed), "csv.header", problem)
                    consumed.clear()
                yield from pending
                return
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield Rejected(line, raw, "csv.columns",
                           f"row has {len(cells)} columns, the header has {len(header)}")
            continue
        try:
            row = coerce_text_row(schema, dict(zip(header, cells, strict=True)))
        except RowError as problem:
            yield Rejected(line, raw, problem.reason, problem.message)
            continue
        yield Draft(line, raw, None, row)
    yield from pending
