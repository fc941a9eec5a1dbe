"""The dashboards' tallies: what each record counts under, and how a replayed batch is not counted again."""

from datetime import UTC, datetime

from sinks.clickhouse.tallies import TALLY_COLUMNS, Tally, tally_key
from tests.unit.test_clickhouse_rows import clean

MINUTE = datetime(2026, 11, 26, 0, 53, tzinfo=UTC)
M = int(MINUTE.timestamp()) // 60


def test_each_kind_of_record_counts_under_its_minute_dataset_and_party() -> None:
    event = clean("person")
    assert tally_key("clean", event, 0)[1:] == ("clean", "person", "市场监管局", "", "")
    assert tally_key("clean", event, 0)[0] == event["ingest"]["ts_ms"] // 60_000
    letter = {"stage": "normalize", "reason": "id_number.checksum", "dataset": None, "context": {},
              "ts_ms": int(MINUTE.timestamp() * 1000) + 59_999}
    assert tally_key("dead_letter", letter, 0) == (M, "dlq", "", "", "normalize", "id_number.checksum")
    delivery = {"subscriber": "fuzhou-city", "dataset": "person", "ts_ms": int(MINUTE.timestamp() * 1000)}
    assert tally_key("delivery", delivery, 0) == (M, "delivered", "person", "fuzhou-city", "", "")
    assert tally_key("arrival", event, int(MINUTE.timestamp() * 1000))[:2] == (M, "in")
    assert tally_key("arrival", {"not": "an envelope"}, 0) is None


def test_a_replayed_batch_counts_only_what_lies_beyond_the_cover() -> None:
    key = (M, "clean", "person", "d", "", "")
    tally = Tally()
    for index, (partition, offset) in enumerate([(0, 10), (0, 11), (0, 12), (1, 5), (1, 6)]):
        tally.add(index, ("norm.person", partition, offset), key)
    tally.add(5, ("norm.person", 1, 7), None)  # not pobi's: never counted
    rows = {(r[8], r[9]): r[6] for r in tally.rows({}, skip={2})}  # record 2 was refused by the tables
    assert rows == {(0, 11): 2, (1, 6): 2}
    assert tally.rows({("norm.person", 0): 12, ("norm.person", 1): 5}, set()) == [
        (MINUTE, *key[1:], 1, "norm.person", 1, 6)]
    assert tally.rows({("norm.person", 0): 12, ("norm.person", 1): 6}, set()) == []
    assert len(TALLY_COLUMNS) == len(tally.rows({}, set())[0])
