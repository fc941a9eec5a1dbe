"""Turning a department's row or change event into pobi's envelope: event ids, keys, source."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from schemas.registry import OPS, WireSchema

__all__ = ["SourceRef", "build_envelope", "change_event_id", "entity_key", "event_id_for", "partition_key",
           "record_key"]

# a fixed namespace, so the same source position gives the same event id on every machine, forever
_EVENT_NAMESPACE = uuid.UUID("6f0c2a4e-4d1b-5b8e-9a57-70626f6269ee")
_NAMESPACE_BYTES = _EVENT_NAMESPACE.bytes
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SourceRef:
    department: str
    system: str


def event_id_for(source: SourceRef, position: str, raw: bytes) -> str:
    """A deterministic id: publishing the same file again gives the same ids, so the hub drops the repeats.

    The raw bytes take part so that a different file that happens to share a name and line numbers
    (tomorrow's export of ``persons.csv``) is not mistaken for a repeat.
    """
    digest = hashlib.sha256(raw).hexdigest()[:32]
    return _uuid5(f"{source.department}\x1f{source.system}\x1f{position}\x1f{digest}")


def change_event_id(source: SourceRef, position: str) -> str:
    """The id of a change whose position in the source's log is known (change data capture): the position
    alone decides it, so the same change delivered twice is the same event whatever else differs."""
    return _uuid5(f"{source.department}\x1f{source.system}\x1f{position}")


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_EVENT_NAMESPACE, name))`` without building a UUID object (which took about an
    eighth of a published record's time): SHA-1 of namespace and name, version 5 and the RFC 4122 variant set."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def partition_key(value: Any) -> bytes:
    """The record key: the entity key in a canonical spelling (NFKC, no spaces, upper case), so that
    ``３５０１…ｘ`` and ``3501…X`` land on the same partition and one entity's events stay in order. The
    value inside the record is left as sent."""
    text = unicodedata.normalize("NFKC", str(value))
    return _SPACES.sub("", text).upper().encode()


def build_envelope(schema: WireSchema, *, event_id: str, op: str, source: SourceRef, position: str,
                   ts_ms: int, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    if op not in OPS:
        raise ValueError(f"op must be one of {', '.join(OPS)}, got {op!r}")
    return {
        "event_id": event_id, "dataset": schema.subject, "op": op,
        "source": {"department": source.department, "system": source.system, "position": position},
        "ts_ms": int(ts_ms), "before": before, "after": after,
    }


def entity_key(schema: WireSchema, envelope: dict[str, Any]) -> Any:
    row = envelope["after"] if envelope["after"] is not None else envelope["before"]
    return row[schema.key_field]


def record_key(schema: WireSchema, envelope: dict[str, Any]) -> bytes:
    """The Kafka key of a change event: its entity key, folded by ``partition_key``."""
    return partition_key(entity_key(schema, envelope))
