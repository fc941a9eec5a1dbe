"""Confluent's wire format and schema ids: what Schema Registry clients (Java, Go, Python, Kafka Connect's
converters, Flink, ClickHouse's ``AvroConfluent``) read. A record is the magic byte 0, the schema's id as a
4-byte big-endian integer, then the Avro body.

A schema's id is derived from its Avro fingerprint (CRC-64-AVRO of the Parsing Canonical Form): 31 bits of it,
so every pobi process finds the same id for the same schema without asking anyone, today and after a restart.
The registry records each id it hands out on ``pobi.schemas`` and probes past an id another schema already
holds, so a collision (about one in two million for a thousand schemas) never gives two schemas one id.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from foundation.errors import DecodeError

__all__ = ["MAGIC_BYTE", "canonical_form", "frame", "natural_id", "schema_fingerprint", "unframe"]

MAGIC_BYTE = b"\x00"
_ID = struct.Struct(">I")


def canonical_form(schema: dict[str, Any] | list[Any]) -> str:
    return str(to_parsing_canonical_form(parse_schema(json.loads(json.dumps(schema)), _write_hint=False)))


def schema_fingerprint(schema: dict[str, Any] | list[Any]) -> str:
    return str(fingerprint(canonical_form(schema), "CRC-64-AVRO"))


def natural_id(fingerprint_hex: str) -> int:
    """The id a schema asks for: the fingerprint's first 31 bits (never 0, which clients treat as unset)."""
    return int(fingerprint_hex[:8], 16) & 0x7FFFFFFF or 1


def frame(schema_id: int, body: bytes) -> bytes:
    return MAGIC_BYTE + _ID.pack(schema_id) + body


def unframe(data: bytes | None) -> tuple[int, bytes]:
    """(schema id, Avro body), or DecodeError for what is not in Confluent's wire format."""
    if data is None or len(data) < 5 or data[:1] != MAGIC_BYTE:
        raise DecodeError("not Confluent's wire format: no magic byte 0 and schema id", "decode.not_confluent")
    return _ID.unpack(data[1:5])[0], bytes(data[5:])
