"""The dedup protocol against the in-memory fake the stage-contract tests use: the same scenarios the real
Redis passes (``tests/integration/test_dedup_store.py``), so the fake cannot drift from the Lua scripts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.dedup_scenarios import SCENARIOS
from tests.doubles import FakeSeenEvents


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_the_fake_gives_the_protocol_s_verdicts(scenario: Callable[..., None]) -> None:
    store: dict[str, str] = {}  # one Redis, seen by several workers
    scenario(lambda token: FakeSeenEvents(token, store))
