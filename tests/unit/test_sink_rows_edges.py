"""Rows for ClickHouse at the edges of what its columns hold, pure: dates a ``Date`` cannot hold become NULL
(the normaliser flagged them), optional positions become -1, every row remembers the record it came from."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sinks.clickhouse.rows import COLUMNS, Rows, _day, arrival_rows, dead_letter_rows

LETTER = {"stage": "ingest", "reason": "csv.malformed", "message": "m", "dataset": None, "original": b"",
          "original_key": None, "source_topic": None, "source_partition": None, "source_offset": None,
          "context": {"line": "3"}, "ts_ms": 1_795_660_200_000}


def test_dates_a_date_column_cannot_hold_are_null() -> None:
    assert _day("1965-05-01") is None and _day("2106-01-01") is None and _day("") is None and _day(None) is None
    assert _day("1970-01-01") == date(1970, 1, 1) and _day("2099-12-31") == date(2099, 12, 31)


def test_a_letter_without_a_source_has_minus_one_positions() -> None:
    rows = Rows()
    dead_letter_rows(LETTER, ("dlq.ingest", 0, 7), rows)
    [row] = rows.tables["dead_letters"]
    named = dict(zip(COLUMNS["dead_letters"], row, strict=True))
    assert (named["source_partition"], named["source_offset"], named["dataset"], named["source_topic"]) == (
        -1, -1, "", "")
    assert named["dead_at"] == datetime(2026, 11, 26, 2, 30, tzinfo=UTC)


def test_rows_remember_their_record_and_can_be_taken_by_record() -> None:
    rows = Rows()
    event = {"dataset": "person", "source": {"department": "d"}, "event_id": "e"}
    for origin in range(3):
        rows.origin = origin
        arrival_rows(event | {"event_id": f"e-{origin}"}, ("ingest.person", 0, origin), 1_795_660_200_000, rows)
    assert rows.columns("arrivals", {0, 2})[5] == ["e-0", "e-2"]  # the event_id column
    rows.discard(1)
    assert rows.origins["arrivals"] == [0, 2] and len(rows) == 2
