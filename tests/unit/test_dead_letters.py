"""A dead letter fits on a topic whatever the record was; the DLQ limit counts bugs, not bad data; every
topic name carries the namespace."""

from __future__ import annotations

import hashlib

import pytest

from foundation.topic_names import Topics
from schemas.codec import Codec
from tests.doubles import FakeMessage
from topics.dead_letters import MAX_ORIGINAL_BYTES, DeadLetter, DeadLetterFlood, DlqLimit, is_bug


def test_a_letter_keeps_its_origin_and_round_trips_through_the_codec() -> None:
    letter = DeadLetter.of("normalize", "id_number.checksum", "check digit", FakeMessage("ingest.person", 2, 41, b"x"),
                           dataset="person", context={"event_id": "e-1"})
    _schema, decoded = Codec().decode(Codec().encode("dead_letter", letter.record()))
    assert (decoded["source_topic"], decoded["source_partition"], decoded["source_offset"]) == ("ingest.person", 2, 41)
    assert decoded["original"] == b"x" and decoded["context"] == {"event_id": "e-1"}


def test_a_null_or_huge_record_still_makes_a_letter_that_fits() -> None:
    null = DeadLetter.of("normalize", "decode.null", "no value", FakeMessage("t", 0, 1, None)).record()
    assert null["original"] == b"" and null["context"]["original_null"] == "true"
    huge = b"A" * (10 * 1024 * 1024)
    record = DeadLetter("normalize", "event.too_large", "m" * 10_000, huge, original_key=b"k" * 10_000,
                        context={"k" * 500: "v" * 5000}).record()
    assert len(record["original"]) == MAX_ORIGINAL_BYTES
    assert record["context"]["original_sha256"] == hashlib.sha256(huge).hexdigest()
    assert record["context"]["original_size"] == str(len(huge))
    assert len(record["message"]) == 2000 and len(record["original_key"]) == 4096
    assert all(len(k) <= 100 and len(v) <= 1000 for k, v in record["context"].items() if k.startswith("k"))
    assert len(Codec().encode("dead_letter", record)) < 300 * 1024


def test_the_dlq_limit_stops_on_bugs_only() -> None:
    limit = DlqLimit("normalize", 0.5, 100)
    limit.observe(100, {"date.impossible": 100})  # a department's bad day: never a reason to stop
    limit.observe(60, {"normalize.unexpected_error": 10})
    with pytest.raises(DeadLetterFlood, match="sent 60 of its last 110"):
        limit.observe(50, {"normalize.unexpected_error": 50})
    assert is_bug("fanout.unexpected_error") and not is_bug("decode.corrupt")


def test_the_dlq_limit_forgets_a_window_that_passed_and_can_be_off() -> None:
    limit = DlqLimit("fanout", 0.5, 100)
    limit.observe(100, {"fanout.unexpected_error": 40})  # 40 %: under the limit, the window resets
    limit.observe(100, {"fanout.unexpected_error": 40})
    off = DlqLimit("fanout", 0.0, 10)
    off.observe(1000, {"fanout.unexpected_error": 1000})


def test_every_name_carries_the_namespace() -> None:
    ns, none = Topics("t1"), Topics("")
    assert (ns.ingest("person"), ns.norm("person"), ns.dlq("sink"), ns.out("fuzhou-city")) == (
        "t1.ingest.person", "t1.norm.person", "t1.dlq.sink", "t1.out.fuzhou-city")
    assert (ns.audit_delivery, ns.subscriptions, ns.group("normalize")) == (
        "t1.audit.delivery", "t1.pobi.subscriptions", "t1.pobi-normalize")
    assert (none.ingest("person"), none.group("sink")) == ("ingest.person", "pobi-sink")
