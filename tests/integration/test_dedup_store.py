"""The dedup store's verdicts on the real Redis (the Lua scripts): new, a repeat within a batch, a crashed
worker's leftover reservation, a redelivery after a lost offset commit, a replay from the DLQ, a conflict —
the scenarios of ``tests.dedup_scenarios``, which the unit tests also run against the in-memory fake."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from foundation.settings import Settings
from streams.dedup import Candidate, Confirmation, SeenEvents, StateWrite, Verdict
from tests.dedup_scenarios import SCENARIOS
from tests.stream_helpers import namespaced

pytestmark = pytest.mark.stack


@pytest.fixture
def ns(unique: str) -> Settings:
    return namespaced(unique)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_the_lua_scripts_give_the_protocol_s_verdicts(live_stack: object, ns: Settings,
                                                      scenario: Callable[..., None]) -> None:
    scenario(lambda token: SeenEvents(ns, token=token))


def test_confirmation_writes_ledger_and_state_atomically(live_stack: object, ns: Settings) -> None:
    worker = SeenEvents(ns, token="w1")
    assert worker.reserve([Candidate("a", "t|0|1")]) == [Verdict.NEW]
    worker.confirm([Confirmation("a", "clean", "t|0|1")], {("normalize:x", "in"): 1, ("normalize:x", "clean"): 1},
                   [StateWrite(ns.redis_key("case", "c1"), "applied", "1000")])
    ledger = worker.redis.hgetall(f"{ns.redis_key('ledger')}:normalize:x")
    assert {k.decode(): int(v) for k, v in ledger.items()} == {"in": 1, "clean": 1}
    assert worker.redis.hgetall(ns.redis_key("case", "c1")) == {b"applied": b"1000"}
