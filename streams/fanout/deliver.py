"""What a contract does to one clean event: select it (the filter), project it (the granted fields) and
mask it (per field), as a delivery record for the subscriber's feed and an entry for the delivery log."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from schemas.codec import MAGIC
from schemas.feeds import FeedWriter
from schemas.projection import delivery_wire_schema
from schemas.registry import SchemaRegistry, WireSchema
from schemas.writer import compile_fields
from streams.fanout.masking import Mask, compile_mask
from topics.contract import DatasetGrant, SubscriptionContract

__all__ = ["DeliveryLog", "Grant", "compile_grants", "subscriber_key"]


def subscriber_key(hub_key: bytes, subscriber: str, purpose: str = "mask") -> bytes:
    """A key of the subscriber's own, derived from the hub's: hashes are stable for one subscriber and do
    not match another's."""
    return hmac.new(hub_key, f"{purpose}|{subscriber}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Grant:
    """One dataset of one contract, ready to apply."""

    subscriber: str
    version: int
    dataset: str
    grant: DatasetGrant
    writer: FeedWriter
    key: bytes
    rules: dict[str, str | None]
    key_field: str

    def selects(self, event: dict[str, Any]) -> bool:
        row = event["after"] if event["after"] is not None else event["before"]
        for name, match in self.grant.filter.items():
            if name == "op":
                value = event["op"]
            elif name in ("department", "system"):
                value = event["source"][name]
            else:
                value = row.get(name) if row else None
            if not match.matches(value):
                return False
        return True

    @cached_property
    def _projection(self) -> tuple[tuple[str, Mask | None], ...]:
        """(field, its mask or None when clear) per granted field, compiled once per contract."""
        return tuple((name, compile_mask(self.grant.masks.get(name, "clear"), self.rules[name], self.key))
                     for name in self.grant.fields)

    @cached_property
    def _entity_mask(self) -> tuple[Mask | None, bool]:
        """How the entity id becomes the record's key: masked as its key field is (a hash when that field is
        not granted, or only shown in part), and whether that equals the projected key field's value."""
        granted = self.key_field in self.grant.fields
        mask = self.grant.masks.get(self.key_field, "clear") if granted else "hash"
        if mask in ("partial", "redact"):
            mask = "hash"
        same_as_field = granted and mask == self.grant.masks.get(self.key_field, "clear")
        return compile_mask(mask, self.rules.get(self.key_field), self.key), same_as_field

    def delivery(self, event: dict[str, Any], now_ms: int) -> tuple[bytes, dict[str, Any]]:
        """(Kafka key, delivery record). The key is the entity id masked as the key field is (a hash when
        the field is not granted), so one entity's deliveries keep their order without exposing its id."""
        row = event["after"] if event["after"] is not None else event["before"]
        projected = None if row is None else {
            name: row.get(name) if mask is None else mask(row.get(name)) for name, mask in self._projection}
        entity_id = event["entity"]["id"]
        key_mask, same_as_field = self._entity_mask
        if same_as_field and projected is not None and row is not None and row.get(self.key_field) == entity_id:
            entity_key = str(projected[self.key_field])  # already masked, once is enough
        else:
            entity_key = str(entity_id if key_mask is None else key_mask(entity_id))
        return entity_key.encode(), {
            "event_id": event["event_id"], "dataset": event["dataset"], "op": event["op"], "ts_ms": event["ts_ms"],
            "department": event["source"]["department"], "entity_type": event["entity"]["type"],
            "entity_key": entity_key, "row": projected, "contract_version": self.version, "delivered_ts_ms": now_ms,
        }

    def audit(self, event: dict[str, Any], now_ms: int, mode: str) -> dict[str, Any]:
        """The delivery-log entry as a record: what ``DeliveryLog`` writes in parts (its tests' reference)."""
        return {"subscriber": self.subscriber, "contract_version": self.version, "dataset": self.dataset,
                "event_id": event["event_id"], "entity_type": event["entity"]["type"],
                "entity_id": event["entity"]["id"], "fields": list(self.grant.fields), "mode": mode, "ts_ms": now_ms}


class DeliveryLog:
    """Delivery-log entries (``delivery_record``) written in three parts: the grant's (subscriber, contract
    version, dataset), the event's (its id, entity type and id), and the batch's (fields, mode, time). An event
    delivered to ten subscribers has its part written once, each grant's part once per batch: an entry costs
    two joins instead of an encoding. The same bytes as encoding ``Grant.audit`` (a unit test compares them)."""

    GRANT = ("subscriber", "contract_version", "dataset")
    EVENT = ("event_id", "entity_type", "entity_id")
    BATCH = ("fields", "mode", "ts_ms")

    def __init__(self, schema: WireSchema) -> None:
        if tuple(f["name"] for f in schema.schema["fields"]) != self.GRANT + self.EVENT + self.BATCH:
            raise ValueError(f"delivery_record v{schema.version} is not written in three parts; see DeliveryLog")
        self._magic = MAGIC + schema.fingerprint
        self._grant, self._event, self._batch = (compile_fields(schema.schema, names)
                                                 for names in (self.GRANT, self.EVENT, self.BATCH))
        self._parts: dict[tuple[str, int, str, str], tuple[bytes, bytes]] = {}  # of the batch at ``_parts_at``
        self._parts_at = -1

    def event_part(self, event: dict[str, Any]) -> bytes:
        return self._event({"event_id": event["event_id"], "entity_type": event["entity"]["type"],
                            "entity_id": event["entity"]["id"]})

    def entry(self, grant: Grant, event_part: bytes, now_ms: int, mode: str) -> bytes:
        if now_ms != self._parts_at:
            self._parts, self._parts_at = {}, now_ms
        key = (grant.subscriber, grant.version, grant.dataset, mode)
        parts = self._parts.get(key)
        if parts is None:
            parts = self._parts[key] = (
                self._magic + self._grant({"subscriber": grant.subscriber, "contract_version": grant.version,
                                           "dataset": grant.dataset}),
                self._batch({"fields": list(grant.grant.fields), "mode": mode, "ts_ms": now_ms}))
        return parts[0] + event_part + parts[1]


def compile_grants(contract: SubscriptionContract, registry: SchemaRegistry, hub_key: bytes,
                   feed_id: int = 0) -> list[Grant]:
    """``feed_id``: the registry id of the contract's feed schema (``topics.subscriptions.contract_feed``),
    which Confluent-format and JSON deliveries name."""
    key = subscriber_key(hub_key, contract.subscriber)
    grants = []
    for branch, dataset in enumerate(sorted(contract.datasets)):  # the feed schema's union order
        grant = contract.datasets[dataset]
        schema = registry.latest(dataset)
        wire = delivery_wire_schema(contract.subscriber, contract.version, dataset, grant.fields, grant.masks,
                                    registry)
        grants.append(Grant(contract.subscriber, contract.version, dataset, grant,
                            FeedWriter(contract.feed_format, wire, branch, feed_id), key,
                            {f.name: f.rule for f in schema.fields}, schema.key_field))
    return grants
