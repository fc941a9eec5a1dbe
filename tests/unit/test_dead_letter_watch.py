"""The dead-letter watch, without Faust running: each letter leaves one log line with its reason and origin
and is counted by stage and reason; an unreadable one is counted too, never a crash."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from schemas.codec import Codec
from streams.agents.dead_letters import DeadLetterWatch
from topics.dead_letters import DeadLetter


def watch() -> DeadLetterWatch:
    watcher = DeadLetterWatch.__new__(DeadLetterWatch)  # the agent's body, without an app to attach it to
    watcher.codec, watcher.counts = Codec(), Counter()
    return watcher


def test_a_letter_is_logged_with_its_origin_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    watcher = watch()
    letter = DeadLetter("normalize", "id_number.checksum", "check digit 5, not 4", b"x", source_topic="ingest.person",
                        source_partition=2, source_offset=41).record()
    with caplog.at_level(logging.INFO, logger="streams.agents.dead_letters"):
        watcher.note(Codec().encode("dead_letter", letter))
        watcher.note(Codec().encode("dead_letter", letter))
    assert watcher.counts == {("normalize", "id_number.checksum"): 2}
    assert "ingest.person[2]@41" in caplog.text and "id_number.checksum" in caplog.text


def test_an_unreadable_letter_is_counted_not_fatal() -> None:
    watcher = watch()
    watcher.note(b"not a dead letter")
    assert watcher.counts == {("?", "decode.not_avro"): 1}
