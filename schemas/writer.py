"""Avro binary bodies for the records pobi builds itself (clean events, deliveries, the delivery log), written
by a writer compiled once per schema: each field's encoder is chosen when the schema is parsed, not looked up
for every value as fastavro's general writer does: 1.4 times as fast on a clean event, twice on a delivery.
The bytes are fastavro's, which a unit test checks on random records of every schema and on whole events.

A department's rows are written by it once ``check_row`` has accepted them (only the schema's fields, each
of its type: what ``pobi publish`` and the gateway send); other records of departments are still written by
fastavro in strict mode (``Codec.encode_with``), which refuses a field the schema does not have.

A schema with a type this writer does not know (fixed, a union of two non-null types, logical types) compiles
to fastavro's writer: ``compile_writer`` never refuses a schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from io import BytesIO
from struct import Struct
from typing import Any

from fastavro import schemaless_writer

__all__ = ["BodyWriter", "compile_fields", "compile_writer", "fastavro_body"]

BodyWriter = Callable[[Any], bytes]
_Put = Callable[[bytes], None]  # appends a piece of the body
_Encoder = Callable[[Any, _Put], None]
_DOUBLE, _FLOAT = Struct("<d"), Struct("<f")
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
# 0..63 at their index, -64..-1 at the end of the list, where a negative index finds them
_SMALL = [bytes(((n << 1) ^ (n >> 63),)) for n in (*range(64), *range(-64, 0))]
_NULL, _BRANCH_1, _TRUE, _FALSE = b"\x00", b"\x02", b"\x01", b"\x00"
_ABSENT = object()


class _UnsupportedError(Exception):
    """A type the compiled writer leaves to fastavro."""


def encode_long(value: int) -> bytes:
    """Avro's int and long: zig-zag, then a little-endian base-128 varint."""
    if -64 <= value < 64:
        return _SMALL[value]
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise ValueError(f"{value} does not fit in an Avro long")
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _long(value: int, put: _Put) -> None:
    if value.__class__ is not int:  # bool is an int to Python, not to Avro
        raise TypeError(f"{value!r} is not an integer")
    put(_SMALL[value] if -64 <= value < 64 else encode_long(value))


def _string(value: str, put: _Put) -> None:
    if value.__class__ is not str:
        raise TypeError(f"{value!r} is not a string")
    data = value.encode()
    size = len(data)
    put(_SMALL[size] if size < 64 else encode_long(size))
    put(data)


def _bytes(value: bytes, put: _Put) -> None:
    if value.__class__ is not bytes:
        raise TypeError(f"{type(value).__name__} is not bytes")
    put(encode_long(len(value)))
    put(value)


def _boolean(value: bool, put: _Put) -> None:
    if value.__class__ is not bool:
        raise TypeError(f"{value!r} is not a boolean")
    put(_TRUE if value else _FALSE)


def _null(value: None, _put: _Put) -> None:
    if value is not None:
        raise TypeError(f"{value!r} is not null")


_PRIMITIVES: dict[str, _Encoder] = {
    "null": _null, "boolean": _boolean, "int": _long, "long": _long, "string": _string, "bytes": _bytes,
    "float": lambda value, put: put(_FLOAT.pack(value)), "double": lambda value, put: put(_DOUBLE.pack(value)),
}


def _compile(schema: Any, named: dict[str, _Encoder], namespace: str) -> _Encoder:
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        full = schema if "." in schema or not namespace else f"{namespace}.{schema}"
        found = named.get(full) or named.get(schema)
        if found is None:
            raise _UnsupportedError(schema)
        return found  # a record is named before its fields compile, so it may contain itself
    if isinstance(schema, list):
        return _union(schema, named, namespace)
    kind = schema.get("type")
    if schema.get("logicalType") is not None:
        raise _UnsupportedError(schema["logicalType"])
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    if kind == "record":
        return _record(schema, named, namespace)
    if kind == "enum":
        return _enum(schema, named, namespace)
    if kind == "array":
        return _array(_compile(schema["items"], named, namespace))
    if kind == "map":
        return _map(_compile(schema["values"], named, namespace))
    raise _UnsupportedError(kind)


def _name(schema: dict[str, Any], named: dict[str, _Encoder], namespace: str, write: _Encoder) -> str:
    """Register a named type under its full and its short name; the namespace its fields inherit."""
    name: str = schema["name"]
    if "." in name:
        space, _, short = name.rpartition(".")
    else:
        space, short = schema.get("namespace", namespace), name
    named[f"{space}.{short}" if space else short] = write
    named.setdefault(short, write)
    return space


def _record(schema: dict[str, Any], named: dict[str, _Encoder], namespace: str) -> _Encoder:
    fields: list[tuple[str, _Encoder, Any]] = []

    def write(record: dict[str, Any], put: _Put) -> None:
        get = record.get
        for name, encode, default in fields:
            # a field left out is written with its default, as fastavro does; one without a default fails
            encode(get(name, default), put)

    space = _name(schema, named, namespace, write)
    fields += [(field["name"], _compile(field["type"], named, space), field.get("default", _ABSENT))
               for field in schema["fields"]]
    return write


def _enum(schema: dict[str, Any], named: dict[str, _Encoder], namespace: str) -> _Encoder:
    index = {symbol: encode_long(n) for n, symbol in enumerate(schema["symbols"])}

    def write(symbol: str, put: _Put) -> None:
        put(index[symbol])  # KeyError for a symbol the enum does not have, as fastavro refuses it

    _name(schema, named, namespace, write)
    return write


def _array(items: _Encoder) -> _Encoder:
    def write(values: list[Any], put: _Put) -> None:
        if values:
            put(encode_long(len(values)))
            for value in values:
                items(value, put)
        put(_NULL)
    return write


def _map(values: _Encoder) -> _Encoder:
    def write(mapping: dict[str, Any], put: _Put) -> None:
        if mapping:
            put(encode_long(len(mapping)))
            for key, value in mapping.items():
                _string(key, put)
                values(value, put)
        put(_NULL)
    return write


def _union(branches: list[Any], named: dict[str, _Encoder], namespace: str) -> _Encoder:
    """``["null", X]``, the only union pobi's schemas have: null, or branch 1 and the value."""
    if len(branches) != 2 or branches[0] != "null" or branches[1] == "null":
        raise _UnsupportedError(branches)
    other = _compile(branches[1], named, namespace)

    def write(value: Any, put: _Put) -> None:
        if value is None:
            put(_NULL)
        else:
            put(_BRANCH_1)
            other(value, put)
    return write


def _body(encode: _Encoder) -> BodyWriter:
    def write(record: Any) -> bytes:
        pieces: list[bytes] = []
        encode(record, pieces.append)
        return b"".join(pieces)
    return write


def fastavro_body(parsed_schema: Any) -> BodyWriter:
    """fastavro's general writer, for what the compiled one does not handle (and as the tests' reference)."""
    def write(record: Any) -> bytes:
        out = BytesIO()
        schemaless_writer(out, parsed_schema, record)
        return out.getvalue()
    return write


def compile_writer(schema: dict[str, Any], parsed_schema: Any) -> BodyWriter:
    """The body writer for ``schema`` (as written, not parsed); fastavro's for a schema it cannot compile."""
    try:
        return _body(_compile(schema, {}, ""))
    except _UnsupportedError:
        return fastavro_body(parsed_schema)


def compile_fields(schema: dict[str, Any], names: Sequence[str]) -> BodyWriter:
    """The body of some consecutive fields of the record ``schema``, from a dict holding at least those. A
    record's body is its fields' bodies one after another, so parts written apart join into the record's body
    (what a part repeated across many records — the same event delivered to ten subscribers — is written once
    for). ValueError for fields that are not consecutive or whose types refer to a type named elsewhere."""
    order = [field["name"] for field in schema["fields"]]
    start = order.index(names[0]) if names and names[0] in order else -1
    if start < 0 or order[start:start + len(names)] != list(names):
        raise ValueError(f"{names} are not consecutive fields of {schema['name']}")
    part = {"type": "record", "name": f"{schema['name']}_part", "namespace": schema.get("namespace", ""),
            "fields": schema["fields"][start:start + len(names)]}
    try:
        return _body(_compile(part, {}, ""))
    except _UnsupportedError as exc:
        raise ValueError(f"{names} of {schema['name']} cannot be written apart: {exc}") from None
