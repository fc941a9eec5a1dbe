"""The dedup store's verdicts on the real Redis: new, a repeat within a batch, a crashed worker's leftover
reservation, a redelivery after a lost offset commit, a replay from the DLQ."""

from __future__ import annotations

import pytest

from pobi.foundation.settings import Settings
from streams.dedup import Candidate, Confirmation, SeenEvents, StateWrite, Verdict
from tests.stream_helpers import namespaced

pytestmark = pytest.mark.stack


@pytest.fixture
def ns(unique: str) -> Settings:
    return namespaced(unique)


def test_verdicts_follow_the_life_of_an_event(live_stack: object, ns: Settings) -> None:
    worker = SeenEvents(ns, token="w1")
    batch = [Candidate("a", "t|0|1"), Candidate("b", "t|0|2"), Candidate("a", "t|0|3")]
    assert worker.reserve(batch) == [Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE]
    worker.confirm([Confirmation("a", "clean", "t|0|1"), Confirmation("b", "dlq", "t|0|2"),
                    Confirmation("a", "duplicate", "t|0|3")],
                   {("normalize:x", "in"): 3, ("normalize:x", "clean"): 1, ("normalize:x", "dlq"): 1,
                    ("normalize:x", "duplicate"): 1},
                   [StateWrite(ns.redis_key("case", "c1"), "applied", "1000")])

    later = SeenEvents(ns, token="w2")
    assert later.reserve([
        Candidate("a", "t|0|1"),  # the same record again: its offset commit was lost
        Candidate("a", "t|0|3"),  # the counted duplicate, redelivered
        Candidate("a", "t|1|9"),  # the same event published again
        Candidate("b", "t|1|10"),  # a dead-lettered event published again
        Candidate("b", "dlq|0|0", replay=True),  # the dead letter replayed after a fix
    ]) == [Verdict.REDELIVERED, Verdict.REDELIVERED, Verdict.DUPLICATE, Verdict.DUPLICATE, Verdict.NEW]

    ledger = worker.redis.hgetall(f"{ns.redis_key('ledger')}:normalize:x")
    assert {k.decode(): int(v) for k, v in ledger.items()} == {"in": 3, "clean": 1, "dlq": 1, "duplicate": 1}
    assert worker.redis.hgetall(ns.redis_key("case", "c1")) == {b"applied": b"1000"}


def test_a_crashed_workers_reservation_is_retried_not_dropped(live_stack: object, ns: Settings) -> None:
    crashed = SeenEvents(ns, token="dead")
    assert crashed.reserve([Candidate("e", "t|0|5")]) == [Verdict.NEW]
    # it died before confirming: the next worker handles the event again instead of calling it a duplicate
    successor = SeenEvents(ns, token="alive")
    assert successor.reserve([Candidate("e", "t|0|5")]) == [Verdict.RETRY]
    successor.confirm([Confirmation("e", "clean", "t|0|5")], {})
    assert successor.reserve([Candidate("e", "t|0|6")]) == [Verdict.DUPLICATE]


def test_a_replayed_clean_event_is_a_duplicate(live_stack: object, ns: Settings) -> None:
    seen = SeenEvents(ns, token="w")
    seen.reserve([Candidate("f", "t|0|1")])
    seen.confirm([Confirmation("f", "clean", "t|0|1")], {})
    assert seen.reserve([Candidate("f", "dlq|0|4", replay=True)]) == [Verdict.DUPLICATE]


def test_a_repeat_with_other_content_is_a_conflict_not_a_duplicate(live_stack: object, unique: str) -> None:
    seen = SeenEvents(namespaced(unique), token="w1")
    first = seen.reserve([Candidate("g", "t|0|1", digest="aa"), Candidate("g", "t|0|2", digest="bb"),
                          Candidate("g", "t|0|3", digest="aa")])
    assert first == [Verdict.NEW, Verdict.CONFLICT, Verdict.DUPLICATE]  # within one batch
    seen.confirm([Confirmation("g", "clean", "t|0|1", "aa"), Confirmation("g", "conflict", "t|0|2"),
                  Confirmation("g", "duplicate", "t|0|3")], {})
    later = SeenEvents(namespaced(unique), token="w2")
    assert later.reserve([Candidate("g", "t|1|7", digest="aa"), Candidate("g", "t|1|8", digest="cc"),
                          Candidate("g", "t|0|2", digest="bb")]) == [
        Verdict.DUPLICATE, Verdict.CONFLICT, Verdict.REDELIVERED]
