"""How the normalise stage tells a Redis that lost pobi's state, pure: Kafka's committed offsets and the
generation marker against a Redis double."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from foundation.settings import load_settings
from streams import durability, ledger
from streams.durability import StateLost, check_persistence, check_state

SETTINGS = load_settings(namespace="t1")


class Redis:
    def __init__(self, config: dict[str, str] | Exception, hashes: dict[str, dict[bytes, bytes]] | None = None):
        self.config, self.hashes = config, hashes or {}

    def config_get(self, pattern: str) -> dict[str, str]:
        if isinstance(self.config, Exception):
            raise self.config
        return self.config

    def exists(self, key: str) -> int:
        return int(key in self.hashes)

    def hgetall(self, key: str) -> dict[bytes, bytes]:
        return self.hashes.get(key, {})

    def hset(self, key: str, mapping: dict[str, Any]) -> None:
        self.hashes[key] = {k.encode(): str(v).encode() for k, v in mapping.items()}


PERSISTENT = {"appendonly": "yes", "appendfsync": "everysec"}


@pytest.fixture
def committed(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[int, int]]:
    progress: dict[str, tuple[int, int]] = {}
    monkeypatch.setattr(durability, "group_progress", lambda *_a: progress)
    monkeypatch.setattr(ledger, "group_progress", lambda *_a: progress)
    return progress


@pytest.mark.parametrize("config", [{"appendonly": "no", "appendfsync": "everysec"},
                                    {"appendonly": "yes", "appendfsync": "no"}])
def test_a_redis_that_does_not_persist_is_refused(config: dict[str, str]) -> None:
    with pytest.raises(StateLost, match="does not keep pobi's state on disk"):
        check_persistence(Redis(config), "here")  # type: ignore[arg-type]


def test_a_user_who_may_not_read_the_configuration_is_not_refused() -> None:
    check_persistence(Redis(redis.exceptions.NoPermissionError("NOPERM")), "here")  # type: ignore[arg-type]


def test_a_fresh_hub_gets_a_generation(committed: dict[str, tuple[int, int]]) -> None:
    committed["t1.ingest.person"] = (0, 0)
    client = Redis(PERSISTENT)
    check_state(SETTINGS, client, ["person"])  # type: ignore[arg-type]
    assert b"id" in client.hashes["pobi:t1:generation"]


def test_committed_offsets_without_a_generation_mean_redis_came_back_empty(
        committed: dict[str, tuple[int, int]]) -> None:
    committed["t1.ingest.person"] = (500, 500)
    with pytest.raises(StateLost, match=r"restarted empty.*pobi ledger rebuild"):
        check_state(SETTINGS, Redis(PERSISTENT), ["person"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("counted", "refused"), [(497, True), (500, False), (520, False)])
def test_a_ledger_behind_kafka_means_redis_rolled_back(committed: dict[str, tuple[int, int]], counted: int,
                                                       refused: bool) -> None:
    committed["t1.ingest.person"] = (530, 500)  # in > committed: confirmed, offsets not yet stored — normal
    client = Redis(PERSISTENT, {"pobi:t1:generation": {b"id": b"g"},
                                "pobi:t1:ledger:normalize:person": {b"in": str(counted).encode()}})
    if refused:
        with pytest.raises(StateLost, match="rolled back"):
            check_state(SETTINGS, client, ["person"])  # type: ignore[arg-type]
    else:
        check_state(SETTINGS, client, ["person"])  # type: ignore[arg-type]
