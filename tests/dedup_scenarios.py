"""The dedup protocol's scenarios, written once: the integration tests run them against the Lua scripts on
the real Redis, the unit tests against ``tests.doubles.FakeSeenEvents`` — so the fake the fast tests lean on
is held to the same verdicts as the real store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.dedup import Candidate, Confirmation, Verdict

__all__ = ["SCENARIOS"]

Store = Any  # SeenEvents or FakeSeenEvents: reserve() and confirm()
MakeStore = Callable[[str], Store]  # a store seen as the worker with this token


def life_of_an_event(make: MakeStore) -> None:
    worker = make("w1")
    batch = [Candidate("a", "t|0|1"), Candidate("b", "t|0|2"), Candidate("a", "t|0|3")]
    assert worker.reserve(batch) == [Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE]
    worker.confirm([Confirmation("a", "clean", "t|0|1"), Confirmation("b", "dlq", "t|0|2"),
                    Confirmation("a", "duplicate", "t|0|3")], {})
    assert make("w2").reserve([
        Candidate("a", "t|0|1"),  # the same record again: its offset commit was lost
        Candidate("a", "t|0|3"),  # the counted duplicate, redelivered
        Candidate("a", "t|1|9"),  # the same event published again
        Candidate("b", "t|1|10"),  # a dead-lettered event published again
        Candidate("b", "dlq|0|0", replay=True),  # the dead letter replayed after a fix
    ]) == [Verdict.REDELIVERED, Verdict.REDELIVERED, Verdict.DUPLICATE, Verdict.DUPLICATE, Verdict.NEW]


def crashed_reservation_is_retried(make: MakeStore) -> None:
    assert make("dead").reserve([Candidate("e", "t|0|5")]) == [Verdict.NEW]
    # it died before confirming: the next worker handles the event again instead of calling it a duplicate
    successor = make("alive")
    assert successor.reserve([Candidate("e", "t|0|5")]) == [Verdict.RETRY]
    successor.confirm([Confirmation("e", "clean", "t|0|5")], {})
    assert successor.reserve([Candidate("e", "t|0|6")]) == [Verdict.DUPLICATE]


def replayed_clean_event_is_a_duplicate(make: MakeStore) -> None:
    seen = make("w")
    seen.reserve([Candidate("f", "t|0|1")])
    seen.confirm([Confirmation("f", "clean", "t|0|1")], {})
    assert seen.reserve([Candidate("f", "dlq|0|4", replay=True)]) == [Verdict.DUPLICATE]


def other_content_is_a_conflict(make: MakeStore) -> None:
    seen = make("w1")
    first = seen.reserve([Candidate("g", "t|0|1", digest="aa"), Candidate("g", "t|0|2", digest="bb"),
                          Candidate("g", "t|0|3", digest="aa")])
    assert first == [Verdict.NEW, Verdict.CONFLICT, Verdict.DUPLICATE]  # within one batch
    seen.confirm([Confirmation("g", "clean", "t|0|1", "aa"), Confirmation("g", "conflict", "t|0|2"),
                  Confirmation("g", "duplicate", "t|0|3")], {})
    assert make("w2").reserve([Candidate("g", "t|1|7", digest="aa"), Candidate("g", "t|1|8", digest="cc"),
                               Candidate("g", "t|0|2", digest="bb")]) == [
        Verdict.DUPLICATE, Verdict.CONFLICT, Verdict.REDELIVERED]


SCENARIOS = [life_of_an_event, crashed_reservation_is_retried, replayed_clean_event_is_a_duplicate,
             other_content_is_a_conflict]
