"""A subscriber's feed on the wire, in the format its contract chose:

- ``avro`` (the default): Confluent's wire format — magic byte 0, the registry id of the feed's schema, then
  the Avro body of that schema, a union of the contract's datasets (the branch index, then the record). It is
  what Confluent's deserializers, Kafka Connect's converters, Flink and ClickHouse's ``AvroConfluent`` read;
- ``avro-single-object``: ``C3 01``, the dataset's delivery schema fingerprint, the body (pobi's first format,
  kept for the subscribers that read it);
- ``json``: one JSON document per record, the registry id of the feed's schema in the header
  ``pobi-schema-id``.

A subscriber decodes all three through the registry (``FeedDecoder``), as its own client would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from io import BytesIO
from typing import Any

import orjson
from fastavro import parse_schema, schemaless_reader

from foundation.errors import DecodeError
from schemas.codec import MAGIC
from schemas.confluent import MAGIC_BYTE, frame, unframe
from schemas.projection import DeliveryDecoder
from schemas.registry import WireSchema

__all__ = ["SCHEMA_ID_HEADER", "FeedDecoder", "FeedWriter", "union_branch"]

SCHEMA_ID_HEADER = "pobi-schema-id"
Headers = list[tuple[str, str | bytes | None]]


def union_branch(index: int) -> bytes:
    """A union's branch index as Avro writes it: a zig-zag varint."""
    value, out = index << 1, bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@dataclass(frozen=True)
class FeedWriter:
    """How one dataset's deliveries to one subscriber are written."""

    format: str
    wire: WireSchema  # the dataset's delivery record
    branch: int  # its place in the feed's union
    schema_id: int  # the registry id of the feed's schema (unused by single-object)

    @cached_property
    def _prefix(self) -> bytes:
        """What comes before every record's body: the framing, and for a Confluent feed the union branch."""
        if self.format == "avro":
            return frame(self.schema_id, union_branch(self.branch))
        return MAGIC + self.wire.fingerprint

    def encode(self, record: dict[str, Any]) -> tuple[bytes, Headers | None]:
        if self.format == "json":
            return orjson.dumps(record), [(SCHEMA_ID_HEADER, str(self.schema_id).encode())]
        return self._prefix + self.wire.body_writer(record), None


class FeedDecoder:
    """Decodes a feed record in any of the three formats. ``schema_of``: the schema (JSON text) holding a
    registry id, as ``GET /schemas/ids/{id}`` answers; ``single_object``: the delivery record schemas a
    single-object feed may be written with (the branches of its subject's versions)."""

    def __init__(self, schema_of: Callable[[int], str], single_object: Sequence[dict[str, Any]] = ()) -> None:
        self._schema_of = schema_of
        self._parsed: dict[int, Any] = {}
        self._single = DeliveryDecoder(list(single_object))

    def decode(self, value: bytes | None,
               headers: Sequence[tuple[str, Any]] | dict[str, Any] | None = None) -> dict[str, Any]:
        if not value:
            raise DecodeError("the record has no value", "decode.null")
        if value[:1] == MAGIC_BYTE:
            schema_id, body = unframe(value)
            record = self._read(schema_id, body)
        elif value[:2] == MAGIC:
            record = self._single.decode(value)
        elif SCHEMA_ID_HEADER in (headers.keys() if isinstance(headers, dict) else (n for n, _ in headers or ())):
            try:
                record = json.loads(value)
            except ValueError as exc:
                raise DecodeError(f"corrupt JSON delivery: {exc}") from None
        else:
            raise DecodeError("not a feed record: neither Confluent's wire format, Avro single-object nor JSON "
                              f"with a {SCHEMA_ID_HEADER} header", "decode.not_avro")
        if not isinstance(record, dict):
            raise DecodeError("a delivery that is not a record")
        return record

    def _read(self, schema_id: int, body: bytes) -> Any:
        if schema_id not in self._parsed:
            self._parsed[schema_id] = parse_schema(json.loads(self._schema_of(schema_id)), _write_hint=False)
        try:
            return schemaless_reader(BytesIO(body), self._parsed[schema_id], None)
        except Exception as exc:  # fastavro raises many types on a corrupt body: EOFError, ValueError, …
            raise DecodeError(f"corrupt delivery: {type(exc).__name__}: {exc}") from exc
