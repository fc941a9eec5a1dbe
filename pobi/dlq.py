"""Reading dead letters back and replaying them through their stage, after a rule or data fix.

A replayed record goes back to the topic it came from, byte for byte with its key, carrying the header
``pobi-replay-of: <dlq topic>/<partition>/<offset>``. The stage lets such a record past a ``dlq``
confirmation of its event id but not past a ``clean`` one, so replaying twice does not duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer

from foundation.errors import DecodeError, PobiError
from foundation.kafka import client_config, origin, require_kafka
from foundation.settings import Settings
from schemas.codec import Codec
from topics.admin import records_to_end
from topics.dead_letters import DLQ_STAGES, REPLAY_HEADER, REPLAYABLE
from topics.producer import Publisher

__all__ = ["DLQ_STAGES", "DeadLetterRecord", "ReplayReport", "plan_replay", "read_dead_letters", "replay"]



@dataclass(frozen=True)
class DeadLetterRecord:
    topic: str
    partition: int
    offset: int
    letter: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # why → how many


def read_dead_letters(settings: Settings, stage: str | None = None, reason: str | None = None,
                      since_ms: int | None = None) -> Iterator[DeadLetterRecord]:
    """Dead letters on ``dlq.<stage>`` (every stage by default) as they are now, oldest first per partition."""
    require_kafka(settings)
    codec = Codec()
    consumer = Consumer(client_config(settings, **{
        "group.id": settings.topics.group("dlq-reader"), "enable.auto.commit": False, "enable.partition.eof": True}))
    try:
        for name in [settings.topics.dlq(s) for s in ([stage] if stage else DLQ_STAGES)]:
            yield from _read_topic(consumer, codec, name, reason, since_ms)
    finally:
        consumer.close()


def _read_topic(consumer: Consumer, codec: Codec, name: str, reason: str | None,
                since_ms: int | None) -> Iterator[DeadLetterRecord]:
    for message in records_to_end(consumer, name, since_ms):
        _topic, p, offset = origin(message)
        try:
            _schema, letter = codec.decode(message.value())
        except DecodeError:
            continue  # not a dead letter pobi wrote; `pobi dlq list` is about pobi's own
        if reason and letter["reason"] != reason and not letter["reason"].startswith(reason + "."):
            continue
        if since_ms and letter["ts_ms"] < since_ms:
            continue
        yield DeadLetterRecord(name, p, offset, letter)


def plan_replay(records: list[DeadLetterRecord]) -> tuple[list[DeadLetterRecord], dict[str, int]]:
    """(the letters that can go back to their topic, why the others cannot → how many): what a replay does and
    what its dry run reports, from one rule."""
    replayable: list[DeadLetterRecord] = []
    skipped: dict[str, int] = {}
    for record in records:
        letter = record.letter
        if letter["stage"] not in REPLAYABLE or not letter["source_topic"]:
            why = (f"{letter['stage']} dead letters of a published file have no topic to go back to; fix the file "
                   "and publish it again" if letter["stage"] == "ingest" else
                   f"{letter['stage']} dead letters are not replayed (their topic would deliver to every "
                   "subscriber again); fix the cause and replay the normalize letters instead")
            skipped[why] = skipped.get(why, 0) + 1
        else:
            replayable.append(record)
    return replayable, skipped


def replay(settings: Settings, records: list[DeadLetterRecord], *, dry_run: bool = False) -> ReplayReport:
    replayable, skipped = plan_replay(records)
    report = ReplayReport(skipped=skipped)
    if dry_run or not replayable:
        report.replayed = len(replayable) if dry_run else 0
        return report
    with Publisher(settings) as publisher:
        for record in replayable:
            letter = record.letter
            publisher.produce_with_headers(letter["source_topic"], letter["original_key"], letter["original"],
                                           [(REPLAY_HEADER, record.where.encode())])
            report.replayed += 1
    if publisher.stats.failed:
        raise PobiError(f"Kafka refused {publisher.stats.failed} replayed records")
    return report
