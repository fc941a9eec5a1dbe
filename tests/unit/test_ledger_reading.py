"""Reading the ledger beside Kafka's offsets, with a Redis double: counts per stage and dataset, dead letters
by reason, and the status an operator acts on."""

from __future__ import annotations

from typing import Any

import pytest

from foundation.settings import load_settings
from streams import ledger
from streams.ledger import read_ledger

SETTINGS = load_settings(namespace="t1")


class Redis:
    def __init__(self, hashes: dict[str, dict[Any, Any]]) -> None:
        self.hashes = hashes

    def hgetall(self, key: str) -> dict[Any, Any]:
        return self.hashes.get(key, {})


def test_counts_reasons_and_status_per_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "group_progress", lambda *_a: {"t1.ingest.person": (12, 12),
                                                               "t1.ingest.licence": (5, 3)})
    client = Redis({
        "pobi:t1:ledger:normalize:person": {b"in": b"12", b"clean": b"9", b"duplicate": b"1", b"dlq": b"2",
                                            b"dlq:id_number.checksum": b"1", b"dlq:event.id_conflict": b"1",
                                            b"redelivered": b"4"},
        "pobi:t1:ledger:normalize:licence": {"in": "3", "clean": "3"},  # a client that decodes answers
    })
    person, licence = read_ledger(SETTINGS, client, "normalize", ["person", "licence"])  # type: ignore[arg-type]
    assert person.counts == {"in": 12, "clean": 9, "duplicate": 1, "dlq": 2, "redelivered": 4}
    assert person.dlq_reasons == {"event.id_conflict": 1, "id_number.checksum": 1}
    assert person.status == "balanced"
    assert licence.status == "catching up (2 to go)" and licence.counts["dlq"] == 0


def test_a_dataset_nothing_was_counted_for_is_all_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "group_progress", lambda *_a: {"t1.ingest.person": (0, 0)})
    [row] = read_ledger(SETTINGS, Redis({}), "normalize", ["person"])  # type: ignore[arg-type]
    assert row.counts == {"in": 0, "clean": 0, "duplicate": 0, "dlq": 0} and row.status == "balanced"
