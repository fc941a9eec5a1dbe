"""The dashboards' counts, pre-aggregated per minute and exact under replay — pure row building.

Each record the sink writes is counted once in ``stage_tallies`` under (minute, kind, dataset, party,
dlq_stage, reason): kind is ``in`` (an arrival on ``ingest.*``), ``clean`` (``norm.*``), ``dlq`` (a dead
letter of any stage) or ``delivered`` (the delivery log); party is the department, or the subscriber for a
delivery. A SummingMergeTree folds the rows of a minute into one, so a dashboard reads minutes, not events.

Exactness without insert deduplication (ClickHouse 18.16 has none on non-replicated tables): every tally row
carries the Kafka partition it counts and the last offset counted, and a materialized view keeps the highest
offset per partition (``tally_cover``) in the same INSERT. Before counting a batch the sink reads that cover
and skips every record at or below it — a batch replayed after a crash (its rows were written, its offsets not
committed) is written again but not counted again. A record the tables refused is not counted (it is in
``dlq.sink``, and counted there).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

__all__ = ["TALLY_COLUMNS", "Tally", "TallyKey", "tally_key"]

TALLY_COLUMNS = ("minute", "kind", "dataset", "party", "dlq_stage", "reason", "events", "topic", "partition",
                 "last_offset")
TallyKey = tuple[int, str, str, str, str, str]  # the minute as minutes since 1970: a datetime per record is slow


def _minute(ms: int) -> int:
    return int(ms) // 60_000


def tally_key(kind: str, record: dict[str, Any], arrived_ms: int) -> TallyKey | None:
    """Where a record of the sink's ``kind`` is counted; None for an arrival that is not pobi's envelope."""
    if kind == "clean":
        return (_minute(record["ingest"]["ts_ms"]), "clean", record["dataset"], record["source"]["department"],
                "", "")
    if kind == "delivery":
        return _minute(record["ts_ms"]), "delivered", record["dataset"], record["subscriber"], "", ""
    if kind == "dead_letter":
        return (_minute(record["ts_ms"]), "dlq", record["dataset"] or "", record["context"].get("department", ""),
                record["stage"], record["reason"])
    if "event_id" in record:
        return _minute(arrived_ms), "in", record["dataset"], record["source"]["department"], "", ""
    return None


class Tally:
    """The counts of one batch, per partition, and the last offset each partition's rows cover."""

    def __init__(self) -> None:
        self._keys: dict[int, tuple[str, int, int, TallyKey]] = {}  # record index → (topic, partition, offset, key)

    def add(self, index: int, position: tuple[str, int, int], key: TallyKey | None) -> None:
        if key is not None:
            self._keys[index] = (*position, key)

    def topics(self) -> list[str]:
        return sorted({topic for topic, _p, _o, _k in self._keys.values()})

    def rows(self, covered: dict[tuple[str, int], int], skip: set[int]) -> list[tuple[Any, ...]]:
        """The tally rows of the records not in ``skip`` and beyond what ``covered`` already counted."""
        counts: Counter[tuple[str, int, TallyKey]] = Counter()
        last: dict[tuple[str, int], int] = {}
        for index, (topic, partition, offset, key) in self._keys.items():
            if index in skip or offset <= covered.get((topic, partition), -1):
                continue
            counts[topic, partition, key] += 1
            last[topic, partition] = max(offset, last.get((topic, partition), -1))
        minutes: dict[int, datetime] = {}
        return [(minutes.setdefault(key[0], datetime.fromtimestamp(key[0] * 60, UTC)), *key[1:], n, topic,
                 partition, last[topic, partition]) for (topic, partition, key), n in counts.items()]
