"""The dead-letter watch: an agent on every ``dlq.<stage>`` topic that leaves a trace of each record a stage
could not pass — one log line with its reason and ``topic[partition]@offset`` — and counts them per stage
and reason, so a surge of dead letters is seen while it happens, not at the next audit."""

from __future__ import annotations

import logging
from collections import Counter

import faust

from foundation.errors import DecodeError
from foundation.settings import Settings
from schemas.codec import Codec
from topics.dead_letters import DLQ_STAGES

__all__ = ["DeadLetterWatch"]

logger = logging.getLogger(__name__)


class DeadLetterWatch:
    def __init__(self, app: faust.App, settings: Settings, codec: Codec | None = None) -> None:
        self.codec = codec or Codec()
        self.counts: Counter[tuple[str, str]] = Counter()
        topics = [app.topic(settings.topics.dlq(s), value_serializer="raw", key_serializer="raw")
                  for s in DLQ_STAGES]
        self.agent = app.agent(topics[0].derive_topic(topics=[t.get_topic_name() for t in topics]),
                               name="dead_letter_watch")(self.watch)

    async def watch(self, letters: faust.StreamT[bytes]) -> None:
        async for letter in letters:
            self.note(letter)

    def note(self, data: bytes) -> None:
        try:
            _schema, letter = self.codec.decode(data)
        except DecodeError as exc:
            logger.warning("unreadable dead letter: %s", exc)
            self.counts[("?", exc.reason)] += 1
            return
        self.counts[(letter["stage"], letter["reason"])] += 1
        logger.info("dead letter from %s: %s (%s) at %s[%s]@%s", letter["stage"], letter["reason"],
                    letter["message"], letter["source_topic"], letter["source_partition"], letter["source_offset"])
