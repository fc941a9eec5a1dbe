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

from foundation.errors import PobiError

__all__ = ["DLQ_STAGES", "MAX_ORIGINAL_BYTES", "REPLAYABLE", "REPLAY_HEADER", "DeadLetter"]

DLQ_STAGES = ("ingest", "normalize", "delivery", "sink")  # dlq.<stage>; fan-out and webhook write dlq.delivery
# stages whose letters can go back to the topic they came from: normalisation's, and the CDC stage's (written
# as ingest letters from a cdc.* topic; ingest letters of a published file have no topic and are skipped).
# Delivery and sink letters are not: going back to norm.* would deliver to every other subscriber again.
REPLAYABLE = ("normalize", "ingest")
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


def is_bug(reason: str) -> bool:
    """A reason that says the stage itself failed on a record (a rule raised, a mapping broke), not that the
    record is bad: what a broken deploy produces by the thousand."""
    return reason.endswith(".unexpected_error")


class DeadLetterFlood(PobiError):  # noqa: N818 - what the operator sees: a flood, not an error class
    """Too many of a stage's recent records went to its DLQ for a bug; the stage stops instead of draining a
    broken deploy into the DLQ (the batch is not committed, so nothing is lost)."""


class DlqLimit:
    """In the spirit of arroyo's ``DlqLimit``: per window of ``window`` records, more than ``max_share`` of them
    dead-lettered *for a bug* (``is_bug``) stops the stage. Bad data never does: a department sending a day of
    wrong dates must not stop the hub for everyone, so only bug reasons count. ``max_share`` 0: off."""

    def __init__(self, stage: str, max_share: float, window: int) -> None:
        self.stage, self.max_share, self.window = stage, max_share, window
        self._seen = self._bugs = 0
        self._reasons: dict[str, int] = {}

    def observe(self, records: int, reasons: Mapping[str, int]) -> None:
        """Count a batch: its size and its dead letters by reason; DeadLetterFlood past the limit."""
        if self.max_share <= 0:
            return
        self._seen += records
        for reason, n in reasons.items():
            if is_bug(reason):
                self._bugs += n
                self._reasons[reason] = self._reasons.get(reason, 0) + n
        if self._seen < self.window:
            return
        if self._bugs > self.max_share * self._seen:
            worst = max(self._reasons, key=lambda r: self._reasons[r])
            raise DeadLetterFlood(
                f"stage {self.stage} sent {self._bugs} of its last {self._seen} records to the DLQ for a bug "
                f"({worst} …; the limit is {self.max_share:.0%}, POBI_DLQ_LIMIT): the stage is broken, not the "
                "data — roll back the deploy; this batch was not committed and will be read again")
        self._seen = self._bugs = 0
        self._reasons = {}
