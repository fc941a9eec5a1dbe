"""The ledger's arithmetic, pure: when a stage balances, is catching up, or is off — and what a rebuild
counts as duplicates."""

from __future__ import annotations

from collections import Counter

import pytest

from streams.ledger import LedgerRow
from streams.rebuild import RebuiltDataset


def row(on_topic: int, committed: int, **counts: int) -> LedgerRow:
    return LedgerRow("normalize", "person", on_topic, committed, counts={"in": 0, "clean": 0, "duplicate": 0,
                                                                          "dlq": 0} | counts)


@pytest.mark.parametrize(("ledger", "status", "balanced"), [
    (row(10, 10, **{"in": 10, "clean": 7, "duplicate": 1, "dlq": 2}), "balanced", True),
    (row(10, 6, **{"in": 6, "clean": 6}), "catching up (4 to go)", True),
    (row(10, 10, **{"in": 10, "clean": 7, "dlq": 2}), "unbalanced: in ≠ clean + duplicate + dlq", False),
    (row(10, 10, **{"in": 9, "clean": 9}), "unbalanced: 10 on the topic, 9 counted in", False),
    (row(0, 0), "balanced", True),
])
def test_status_says_whether_every_record_is_accounted_for(ledger: LedgerRow, status: str, balanced: bool) -> None:
    assert ledger.status == status and ledger.balanced is balanced
    assert ledger.as_dict()["status"] == status


def test_a_rebuild_counts_what_left_no_trace_as_duplicates() -> None:
    rebuilt = RebuiltDataset("person", counted_in=100, clean=90, dlq=Counter({"id_number.checksum": 4}))
    assert rebuilt.duplicate == 6
    ledger = rebuilt.ledger()
    assert ledger[("normalize:person", "in")] == 100
    assert ledger[("normalize:person", "clean")] + ledger[("normalize:person", "dlq")] + \
        ledger[("normalize:person", "duplicate")] == 100
    assert ledger[("normalize:person", "dlq:id_number.checksum")] == 4
    assert RebuiltDataset("person", counted_in=3, clean=5).duplicate == 0  # never negative
