"""A replay's dry run counts what the replay would send, from the same rule: letters without a topic to go
back to (a file's lines refused at ingest) are skipped with the reason, in both."""

from __future__ import annotations

from foundation.settings import load_settings
from pobi.dlq import DeadLetterRecord, plan_replay, replay


def _record(stage: str, source_topic: str | None, offset: int) -> DeadLetterRecord:
    return DeadLetterRecord(f"dlq.{stage}", 0, offset, {"stage": stage, "source_topic": source_topic,
                                                       "original_key": b"k", "original": b"v"})


def test_the_dry_run_counts_what_the_replay_would_send() -> None:
    records = [_record("ingest", None, 0), _record("ingest", None, 1), _record("normalize", "ingest.person", 2)]
    replayable, skipped = plan_replay(records)
    assert [r.offset for r in replayable] == [2]
    assert list(skipped.values()) == [2] and "of a published file have no topic" in next(iter(skipped))
    settings = load_settings(kafka_bootstrap="127.0.0.1:1")  # nothing is sent in a dry run
    report = replay(settings, records, dry_run=True)
    assert report.replayed == 1 and report.skipped == skipped
    only_ingest = replay(settings, records[:2], dry_run=True)
    assert only_ingest.replayed == 0 and sum(only_ingest.skipped.values()) == 2


def test_cdc_letters_go_back_to_their_debezium_topic_and_delivery_letters_never_replay() -> None:
    records = [_record("ingest", "cdc.public_security.hukou.residents", 0), _record("delivery", "norm.person", 1),
               _record("sink", "norm.person", 2)]
    replayable, skipped = plan_replay(records)
    assert [r.letter["source_topic"] for r in replayable] == ["cdc.public_security.hukou.residents"]
    assert sum(skipped.values()) == 2 and all("deliver to every subscriber again" in why for why in skipped)
