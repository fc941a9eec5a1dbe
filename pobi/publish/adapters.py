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
from schemas.envelope import SourceRef
from schemas.registry import SchemaRegistry, WireSchema
from schemas.rows import RowError, coerce_text_row
from streams.cdc.debezium import ControlRecord, Unreadable, read_change
from streams.cdc.mapping import map_change
from topics.sources import ColumnMapping, SourceDefinition, TableMapping

__all__ = [
    "FORMATS", "Draft", "Item", "Rejected", "Skipped", "decoded_lines", "draft_of_json", "load_header_mapping",
    "read_csv", "read_debezium", "read_jsonl",
]

CSV_FIELD_LIMIT = 8 * 1024 * 1024  # a cell beyond this is refused (csv.malformed); below it, the record's size
MAX_ORIGINAL_BYTES = 256 * 1024
MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "mappings"


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
    sheet: str | None = None  # a workbook's sheet; its rows are numbered within it

    @property
    def place(self) -> str:
        """Where in the input: ``12``, or ``Sheet1!12`` in a workbook."""
        return f"{self.sheet}!{self.line}" if self.sheet else str(self.line)


@dataclass(frozen=True)
class Rejected:
    line: int
    raw: bytes
    reason: str
    message: str
    sheet: str | None = None

    @property
    def place(self) -> str:
        return f"{self.sheet}!{self.line}" if self.sheet else str(self.line)


@dataclass(frozen=True)
class Skipped:
    """Read and deliberately not published (a Debezium tombstone, a workbook's sheet without a header);
    counted and said, not dead-lettered."""

    line: int
    reason: str
    sheet: str | None = None


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


def draft_of_json(number: int, raw: bytes, obj: Any) -> Draft:
    """A JSON value as a draft: a whole pobi change event (it has ``op`` and ``after``/``before``; its
    ``source`` gives at most a position, never a department) or else a row."""
    if isinstance(obj, dict) and "op" in obj and ("after" in obj or "before" in obj):
        source: dict[str, Any] = obj["source"] if isinstance(obj.get("source"), dict) else {}
        return Draft(number, raw, obj.get("before"), obj.get("after"), op=obj.get("op"),
                     event_id=obj.get("event_id"), position=source.get("position"), ts_ms=obj.get("ts_ms"))
    return Draft(number, raw, None, obj)


def read_jsonl(raw_lines: Iterable[bytes], encoding: str = "utf-8") -> Iterator[Item]:
    """One row per line, or one whole pobi envelope per line."""
    for number, raw, obj in _json_records(raw_lines, encoding):
        yield obj if isinstance(obj, Rejected) else draft_of_json(number, raw, obj)


def _json_values(raw_lines: Iterable[bytes], encoding: str) -> Iterator[tuple[int, bytes, Any]]:
    """(first line, raw bytes, parsed JSON or Rejected) per JSON value: one per line, or one spread over
    several lines (a pretty-printed Debezium event), told apart by counting brackets outside strings."""
    chunk: list[bytes] = []
    texts: list[str] = []
    first, depth, in_string, escaped = 0, 0, False, False
    for number, raw, text in decoded_lines(raw_lines, encoding):
        if isinstance(text, Rejected):
            yield number, raw, text
            continue
        if not chunk and not text.strip():
            continue
        if not chunk:
            first = number
        chunk.append(raw)
        texts.append(text)
        for char in text:
            if in_string:
                escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
            elif char == '"':
                in_string = True
            elif char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
        if depth > 0 and sum(len(r) for r in chunk) <= MAX_ORIGINAL_BYTES * 4:
            continue
        whole = b"\n".join(chunk)
        try:
            yield first, whole, orjson.loads("\n".join(texts))
        except orjson.JSONDecodeError as exc:
            yield first, whole, Rejected(first, whole, "json.malformed", f"not valid JSON: {exc}")
        chunk, texts, depth, in_string, escaped = [], [], 0, False, False
    if chunk:
        whole = b"\n".join(chunk)
        yield first, whole, Rejected(first, whole, "json.malformed", "the input ends inside a JSON value")


def identity_source(dataset: str, table: str, schema: WireSchema) -> SourceDefinition:
    """For Debezium input without ``--mapping``: columns already named as the dataset's fields."""
    columns = {f.name: ColumnMapping(field=f.name) for f in schema.fields}
    return SourceDefinition(source="file", department="-", system="-",
                            tables={table: TableMapping(dataset=dataset, columns=columns)})


def read_debezium(raw_lines: Iterable[bytes], encoding: str, registry: SchemaRegistry, dataset: str,
                  origin: SourceRef, source: SourceDefinition | None = None) -> Iterator[Item]:
    """Debezium JSON change events, with or without the ``schema``/``payload`` wrapper, one per line or
    pretty-printed, through the source's mapping (``--mapping``) as the CDC stage maps them: the same event
    ids (from the position), the commit time, transaction markers and heartbeats skipped and counted.
    Without a mapping the rows must already use the dataset's field names and the table must be named
    after the dataset."""
    schema = registry.latest(dataset)
    identities: dict[str, SourceDefinition] = {}  # table → its identity mapping, built once per table
    for number, raw, obj in _json_values(raw_lines, encoding):
        if isinstance(obj, Rejected):
            yield obj
            continue
        change = read_change(obj)
        if isinstance(change, ControlRecord):
            yield Skipped(number, f"debezium.{change.kind}")
            continue
        if isinstance(change, Unreadable):
            yield Rejected(number, raw, change.reason, change.message)
            continue
        mapping = source
        if mapping is None and change.table.rsplit(".", 1)[-1] == schema.subject:
            if change.table not in identities:
                identities[change.table] = identity_source(schema.subject, change.table, schema)
            mapping = identities[change.table]
        if mapping is None:
            yield Rejected(number, raw, "cdc.table_not_mapped",
                           f"table {change.table} is not {schema.subject}: give --mapping with a source definition")
            continue
        try:
            mapped = map_change(mapping, change, registry, origin)
        except RowError as problem:
            yield Rejected(number, raw, problem.reason, problem.message)
            continue
        if mapped.dataset != schema.subject:
            yield Rejected(number, raw, "cdc.other_dataset", f"table {change.table} maps to {mapped.dataset}, "
                           f"not to {schema.subject} (-d)")
            continue
        yield Draft(number, raw, mapped.before, mapped.after, op=mapped.op, event_id=mapped.event_id,
                    position=mapped.position, ts_ms=mapped.ts_ms)


def _read_mapping(path: Path) -> dict[str, str]:
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f":{where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', None) or 'unreadable'})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read mapping file {path}: {exc}") from None
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in mapping.items()):
        raise ConfigError(f"{path}: a mapping file maps column headers to field names, one 'header: field' a line")
    return mapping


def load_header_mapping(path: Path | None, dataset: str) -> dict[str, str]:
    """Column header → field name: the shipped ``<dataset>.zh.yaml`` (if any), extended — and where both name
    a header, overridden — by the given file."""
    shipped = MAPPINGS_DIR / f"{dataset}.zh.yaml"
    mapping = _read_mapping(shipped) if shipped.exists() else {}
    if path is not None:
        if not path.exists():
            raise ConfigError(f"mapping file {path} does not exist")
        mapping |= _read_mapping(path)
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
