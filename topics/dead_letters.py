"""A dead letter, in one place: the record a stage writes to ``dlq.<stage>`` when it cannot pass something,
with the original bytes, where they came from and why; the stages that have a DLQ; the header a replayed
record carries. ``Publisher.send_dead_letter`` is the one way to send one, and it counts every letter in
``pobi_dead_letters``' one metric, ``pobi_dlq_total{stage, reason}``, whatever the stage.

Whatever the record was, its letter fits on a topic: a null value becomes an empty original with
``context.original_null``; an original over ``MAX_ORIGINAL_BYTES`` keeps its head with its size and SHA-256;
message and context are cut to a few hundred characters.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["DLQ_STAGES", "MAX_ORIGINAL_BYTES", "REPLAYABLE", "REPLAY_HEADER", "DeadLetter"]

DLQ_STAGES = ("ingest", "normalize", "delivery", "sink")  # dlq.<stage>; fan-out and webhook write dlq.delivery
REPLAYABLE = ("normalize",)  # stages whose letters carry the topic they came from and can go back there
REPLAY_HEADER = "pobi-replay-of"  # set by `pobi dlq replay`: the dead letter's dlq topic/partition/offset
MAX_ORIGINAL_BYTES = 256 * 1024
_MAX_KEY_BYTES = 4096


class _Consumed(Protocol):  # what a dead letter needs of a consumed Kafka message
    def value(self) -> bytes | None: ...
    def key(self) -> bytes | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...


@dataclass(frozen=True)
class DeadLetter:
    stage: str  # the stage that refused the record (ingest, normalize, fanout, delivery, sink)
    reason: str  # a stable code: id_number.checksum, decode.not_avro, webhook.failed…
    message: str  # the reason in words
    original: bytes | None
    original_key: bytes | None = None
    dataset: str | None = None
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    context: Mapping[str, str] = field(default_factory=dict)
    ts_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    @classmethod
    def of(cls, stage: str, reason: str, message: str, consumed: _Consumed, *, dataset: str | None = None,
           context: Mapping[str, str] | None = None) -> DeadLetter:
        """The letter of a record a stage consumed: its bytes, key and position."""
        return cls(stage, reason, message, consumed.value(), consumed.key(), dataset, consumed.topic(),
                   consumed.partition(), consumed.offset(), dict(context or {}))

    def record(self) -> dict[str, Any]:
        """The ``pobi.DeadLetter`` Avro record, bounded in size whatever the original was."""
        context = {str(k)[:100]: str(v)[:1000] for k, v in self.context.items()}
        original, key = self.original, self.original_key
        if original is None:
            context["original_null"] = "true"
            original = b""
        elif len(original) > MAX_ORIGINAL_BYTES:
            context["original_size"] = str(len(original))
            context["original_sha256"] = hashlib.sha256(original).hexdigest()
            original = original[:MAX_ORIGINAL_BYTES]
        if key is not None and len(key) > _MAX_KEY_BYTES:
            context["original_key_sha256"] = hashlib.sha256(key).hexdigest()
            key = key[:_MAX_KEY_BYTES]
        return {"stage": self.stage, "reason": self.reason, "message": self.message[:2000], "dataset": self.dataset,
                "original": original, "original_key": key, "source_topic": self.source_topic,
                "source_partition": self.source_partition, "source_offset": self.source_offset,
                "context": context, "ts_ms": self.ts_ms}
