"""What clean events, delivery-log entries and dead letters become as ClickHouse rows; migrations parse."""

from datetime import date

from schemas.registry import default_registry
from sinks.clickhouse.migrate import load_migrations
from sinks.clickhouse.rebuild import DERIVED
from sinks.clickhouse.rows import COLUMNS, Rows, clean_event_rows
from sinks.clickhouse.search import NAME_ATTRIBUTES, name_tokens
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from tests.samples import SAMPLE_ROWS

CLOCK = RuleClock(date(2026, 11, 26), 1_795_657_200_000)


def clean(dataset: str, op: str = "c") -> dict:
    event = {"event_id": f"e-{dataset}", "dataset": dataset, "op": op, "ts_ms": 1_795_650_000_000,
             "source": {"department": "市场监管局", "system": "aic", "position": "1"},
             "before": SAMPLE_ROWS[dataset] if op == "d" else None,
             "after": None if op == "d" else SAMPLE_ROWS[dataset]}
    return normalize_event(default_registry().latest(dataset), event, CLOCK,
                           {"topic": "t", "partition": 0, "offset": 0, "ts_ms": 1_795_650_001_000})


def test_an_enterprise_becomes_an_event_its_attributes_and_a_link() -> None:
    rows = Rows()
    clean_event_rows(clean("enterprise"), rows)
    assert set(rows.tables) == {"events", "attributes", "links"}  # links_in and the search index: ClickHouse's
    [event] = rows.tables["events"]
    assert dict(zip(COLUMNS["events"], event, strict=True))["entity_id"] == "91350100M000100Y43"
    attributes = {r[2]: r[3] for r in rows.tables["attributes"]}
    assert attributes["name"] == "福州闽江科技有限公司" and attributes["__deleted"] == "0"
    assert attributes["division_code.city"] == "福州市" and attributes["registered_capital"] == "500.0"
    assert rows.tables["links"] == [("enterprise", "91350100M000100Y43", "legal_representative", "person",
                                     "350102199003071234", "市场监管局", 1_795_650_000_000, "e-enterprise")]
    assert all(len(r) == len(COLUMNS[t]) for t, rs in rows.tables.items() for r in rs)


def test_datasets_with_their_own_tables_and_deletes() -> None:
    rows = Rows()
    for dataset in ("sensor_reading", "approval_case", "licence"):
        clean_event_rows(clean(dataset), rows)
    assert {"readings", "case_stages", "licences"} <= set(rows.tables)
    [licence] = rows.tables["licences"]
    assert licence[COLUMNS["licences"].index("valid_to")] == date(2028, 4, 2)
    deleted = Rows()
    clean_event_rows(clean("person", op="d"), deleted)
    assert ("__deleted", "1") in {(r[2], r[3]) for r in deleted.tables["attributes"]}
    assert len(deleted.columns("attributes")) == len(COLUMNS["attributes"])


def test_migrations_are_numbered_and_split_into_statements() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    statements = [s for m in migrations for s in m.statements("x")]
    assert all(s.startswith(("CREATE", "INSERT INTO x.", "DROP TABLE IF EXISTS x.")) for s in statements)
    assert all("VALUES" not in s for s in statements)  # INSERT … SELECT only: the driver sends no data block
    replacing = {s.split("x.")[1].split(" ")[0] for s in statements if "ENGINE = ReplacingMergeTree" in s}
    assert set(COLUMNS) <= replacing  # every table the sink writes collapses a replayed batch


def test_names_are_indexed_by_each_character_and_each_neighbouring_pair() -> None:
    assert set(name_tokens("陈志明")) == {"陈", "志", "明", "陈志", "志明"}
    assert name_tokens("ABc陈陈") == ["a", "b", "c", "陈", "ab", "bc", "c陈", "陈陈"]
    assert len(name_tokens("名" * 500)) == 2 and len(name_tokens("".join(map(chr, range(0x4E00, 0x4E64))))) == 63


def test_each_derived_table_is_written_by_a_view_with_the_rebuild_s_select() -> None:
    views = {}
    for migration in load_migrations():
        for statement in migration.statements("x"):
            if statement.startswith("CREATE MATERIALIZED VIEW") and "_writer TO" in statement:
                target = statement.split(" TO x.")[1].split(" ")[0]
                views[target] = " ".join(statement.split(" AS\n", 1)[1].split())
    for table, derived in DERIVED.items():
        assert views[table] == " ".join(derived.select.format(source=f"x.{derived.base}").split()), table
    assert set(DERIVED) <= set(views)  # the tallies have views too, not rebuilt (their cover is offsets)
    assert f"WHERE attribute IN ({', '.join(map(repr, NAME_ATTRIBUTES))})" in views["search_tokens"]
