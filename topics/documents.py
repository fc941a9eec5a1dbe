"""Following a compacted topic of JSON documents (key → latest document; a tombstone removes it): the way
workers learn the contracts (``pobi.subscriptions``) and the change-data-capture sources (``pobi.sources``)
in force without a restart."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from foundation.errors import PobiError
from foundation.kafka import client_config
from foundation.settings import Settings

__all__ = ["DocumentBook"]

logger = logging.getLogger(__name__)
# what a topic created a moment ago answers until its metadata and leader have settled
_NOT_READY_YET = (KafkaError._UNKNOWN_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC,
                  KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)


class DocumentBook:
    """The documents on one single-partition compacted topic, kept current by ``refresh`` (cheap: a poll that
    returns at once when nothing changed). ``changed`` hears of each change seen after ``load``."""

    def __init__(self, settings: Settings, topic: str, group: str) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self._live = False  # history read by load() is not news; changes seen by refresh() are
        self._topic = topic
        self._consumer = Consumer(client_config(settings, **{
            "group.id": settings.topics.group(group), "enable.auto.commit": False,
            "enable.partition.eof": True}))
        self._consumer.assign([TopicPartition(self._topic, 0, OFFSET_BEGINNING)])

    def load(self, timeout_s: float = 10.0) -> list[str]:
        """Read up to the current end of the topic; the keys whose document changed."""
        deadline = time.monotonic() + timeout_s
        high = self._end_offset(deadline)
        changed = []
        position = self._consumer.position([TopicPartition(self._topic, 0)])[0].offset
        while (position < 0 or position < high) and high > 0 and time.monotonic() < deadline:
            changed += self._apply(self._consumer.consume(500, 0.5))
            position = self._consumer.position([TopicPartition(self._topic, 0)])[0].offset
        self._live = True
        return changed

    def _end_offset(self, deadline: float) -> int:
        """The topic's end offset, waiting out metadata that has not yet caught up with a new topic."""
        while True:
            try:
                return self._consumer.get_watermark_offsets(TopicPartition(self._topic, 0), timeout=5)[1]
            except KafkaException as exc:
                if exc.args[0].code() not in _NOT_READY_YET or time.monotonic() > deadline:
                    raise PobiError(f"cannot read {self._topic} ({exc.args[0].str()}); "
                                    "does it exist? (`pobi topics apply`)") from None
                time.sleep(0.2)

    def refresh(self) -> list[str]:
        return self._apply(self._consumer.consume(500, 0))

    def _apply(self, messages: list[Any]) -> list[str]:
        changed = []
        for message in messages:
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    logger.warning("reading %s: %s", self._topic, message.error().str())
                continue
            key = (message.key() or b"").decode("utf-8", "replace")
            if message.value() is None:
                if self.documents.pop(key, None) is not None and self._live:
                    self.changed(key, None)
            else:
                try:
                    document = json.loads(message.value())
                except ValueError:
                    document = {}
                self.documents[key] = document if isinstance(document, dict) else {}
                if self._live:
                    self.changed(key, self.documents[key])
            changed.append(key)
        return changed

    def changed(self, key: str, document: dict[str, Any] | None) -> None:
        """A change seen after ``load``: ``document`` None when the key was withdrawn."""

    def close(self) -> None:
        self._consumer.close()
