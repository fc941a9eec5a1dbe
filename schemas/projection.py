"""The Avro schema of one subscriber's feed for one dataset, derived from its contract's projection.

A delivery carries the event's identity (id, op, time, department), the entity (its key masked as the key
field is), the projected row — only the fields the contract grants, masked fields as strings — and the
contract version it was delivered under. The schema travels with the contract on ``pobi.subscriptions``,
so a subscriber decodes its feed without pobi's code; every version it was ever delivered under is kept there.
"""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader

from foundation.errors import DecodeError
from schemas.codec import MAGIC
from schemas.registry import SchemaRegistry, WireSchema

__all__ = ["DeliveryDecoder", "delivery_schema", "delivery_wire_schema", "feed_schema"]


def delivery_schema(subscriber: str, version: int, dataset: str, fields: list[str], masks: Mapping[str, str],
                    registry: SchemaRegistry) -> dict[str, Any]:
    specs = {f.name: f for f in registry.latest(dataset).fields}
    row_fields = []
    for name in fields:
        mask = masks.get(name, "clear")
        value_type = "string" if mask != "clear" else specs[name].base_type
        row_fields.append({"name": name, "type": ["null", value_type], "default": None,
                           "doc": f"{specs[name].doc} [{mask}]".strip()})
    camel = "".join(part.capitalize() for part in dataset.split("_"))
    return {
        "type": "record", "name": f"{camel}Delivery", "namespace": f"pobi.out.{subscriber.replace('-', '_')}",
        "doc": f"{dataset} as contract {subscriber} v{version} delivers it",
        "fields": [
            {"name": "event_id", "type": "string"}, {"name": "dataset", "type": "string"},
            {"name": "op", "type": "string"}, {"name": "ts_ms", "type": "long"},
            {"name": "department", "type": "string"},
            {"name": "entity_type", "type": "string"},
            {"name": "entity_key", "type": "string", "doc": "the entity's id, masked as its key field is"},
            {"name": "row", "type": ["null", {"type": "record", "name": f"{camel}Row", "fields": row_fields}],
             "default": None},
            {"name": "contract_version", "type": "int"},
            {"name": "delivered_ts_ms", "type": "long"},
        ],
    }


def delivery_wire_schema(subscriber: str, version: int, dataset: str, fields: list[str], masks: Mapping[str, str],
                         registry: SchemaRegistry) -> WireSchema:
    schema = delivery_schema(subscriber, version, dataset, fields, masks, registry)
    return WireSchema(f"out.{subscriber}.{dataset}", version, schema, None, "delivery")


def feed_schema(subscriber: str, version: int, grants: Mapping[str, tuple[list[str], Mapping[str, str]]],
                registry: SchemaRegistry) -> list[dict[str, Any]]:
    """The schema of the whole feed ``out.<subscriber>`` under one contract version, as its registry subject
    ``out.<subscriber>-value`` holds it: a union of the per-dataset delivery records, by dataset name (the
    branch a record is written with is its dataset's place in that order). ``grants``: dataset → (fields,
    masks)."""
    return [delivery_schema(subscriber, version, dataset, *grants[dataset], registry) for dataset in sorted(grants)]


class DeliveryDecoder:
    """Decodes a subscriber's feed with the delivery schemas published with its contract."""

    def __init__(self, schemas: list[dict[str, Any]]) -> None:
        self._by_fingerprint = {}
        for schema in schemas:
            wire = WireSchema("delivery", 0, schema, None, "delivery")
            self._by_fingerprint[wire.fingerprint] = wire

    def decode(self, data: bytes) -> dict[str, Any]:
        if len(data) < 10 or data[:2] != MAGIC:
            raise DecodeError("not a pobi delivery: no Avro single-object marker", "decode.not_avro")
        wire = self._by_fingerprint.get(bytes(data[2:10]))
        if wire is None:
            raise DecodeError("written with a delivery schema this contract document does not list",
                              "decode.unknown_schema")
        try:
            record = schemaless_reader(BytesIO(data[10:]), wire.parsed, None)
        except Exception as exc:  # fastavro raises many types on a corrupt body: EOFError, ValueError, …
            raise DecodeError(f"corrupt delivery: {type(exc).__name__}: {exc}") from exc
        if not isinstance(record, dict):
            raise DecodeError("a delivery that is not a record")
        return record
