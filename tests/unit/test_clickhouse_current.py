"""Every migration and every query of pobi on current ClickHouse (chdb, in-process), with rows made by the
same converters the sink uses. The test server is Debian's 18.16; this proves the modern side."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from chdb import session as chdb_session

from sinks.clickhouse.migrate import apply_migrations, load_migrations
from sinks.clickhouse.queries import OBJECT_QUERIES, TALLY_COVER, VIEW_QUERIES
from sinks.clickhouse.rows import COLUMNS, Rows, clean_event_rows, dead_letter_rows, delivery_rows, read_rows
from sinks.clickhouse.search import name_tokens
from sinks.clickhouse.tallies import TALLY_COLUMNS, Tally, tally_key
from tests.unit.test_clickhouse_rows import clean

DB = "pobi_current"


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"toDateTime('{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}', 'UTC')"
    if isinstance(value, date):
        return f"toDate('{value.isoformat()}')"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.fixture(scope="module")
def session() -> Any:
    sess = chdb_session.Session()
    yield sess
    sess.close()


def run(sess: Any, query: str, params: dict[str, Any] | None = None) -> list[list[str]]:
    text = query.replace("{db}", DB) % {k: literal(v) for k, v in (params or {}).items()} if params else \
        query.replace("{db}", DB)
    out = sess.query(text, "TabSeparated")
    return [line.split("\t") for line in str(out).splitlines() if line]


def insert(sess: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        values = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
        columns = TALLY_COLUMNS if table == "stage_tallies" else COLUMNS[table]
        run(sess, f"INSERT INTO {DB}.{table} ({', '.join(columns)}) VALUES {values}")


def test_migrations_and_every_query_run_on_current_clickhouse(session: Any) -> None:
    applied = apply_migrations(lambda q: run(session, q), DB)
    assert [m.version for m in applied] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert apply_migrations(lambda q: run(session, q), DB) == []  # idempotent

    rows, tally = Rows(), Tally()
    for offset, dataset in enumerate(("person", "enterprise", "licence", "approval_case", "sensor_reading")):
        event = clean(dataset)
        clean_event_rows(event, rows)
        tally.add(offset, (f"norm.{dataset}", 0, 7), tally_key("clean", event, 0))
    delivery = {"subscriber": "fuzhou-city", "contract_version": 1, "dataset": "person", "event_id": "e-person",
                "entity_type": "person", "entity_id": "350102199003071234", "fields": ["name"], "mode": "kafka",
                "ts_ms": 1_795_650_002_000}
    delivery_rows(delivery, rows)
    tally.add(5, ("audit.delivery", 0, 3), tally_key("delivery", delivery, 0))
    letter = {"stage": "normalize", "reason": "id_number.checksum", "message": "m", "dataset": "person",
              "source_topic": "ingest.person", "source_partition": 0, "source_offset": 3,
              "context": {"department": "d", "event_id": "x"}, "ts_ms": 1_795_650_003_000}
    dead_letter_rows(letter, ("dlq.normalize", 0, 0), rows)
    read_rows({"entity_type": "person", "entity_id": "350102199003071234", "view": "object", "reader": "clerk-1",
               "role": "viewer", "channel": "console", "ts_ms": 1_795_650_004_000}, rows)
    tally.add(6, ("dlq.normalize", 0, 0), tally_key("dead_letter", letter, 0))
    for _ in range(2):  # the same batch twice: a replay must not double anything
        for table, table_rows in rows.tables.items():
            insert(session, table, table_rows)
        covered = {(t, int(p)): int(o) for t, p, o in run(session, TALLY_COVER, {"topics": tally.topics()})}
        insert(session, "stage_tallies", tally.rows(covered, set()))

    person = {"entity_type": "person", "entity_id": "350102199003071234", "limit": 50}
    params = {**person, "text": "陈", "token": "陈", "prefix": "350102%", "dlq_topic": "dlq.normalize",
              "reason": "id_number.checksum"}
    results = {name: run(session, query, params) for name, query in OBJECT_QUERIES.items()}
    results |= {name: run(session, query) for name, query in VIEW_QUERIES.items()}
    assert {r[0]: r[2] for r in results["attributes"]}["name"] == "陈志明"
    assert [r[1:] for r in results["reads"]] == [["clerk-1", "viewer", "console", "object"]]
    assert [r[2] for r in results["dead_letters"]] == ["id_number.checksum"]
    assert len(results["timeline"]) == 1
    assert results["tracker"][0][0] == "fuzhou-city"
    assert sorted(r[:4] for r in results["search_names"]) == [
        ["enterprise", "91350100M000100Y43", "陈志明", "legal_rep_name"],
        ["person", "350102199003071234", "陈志明", "name"]]
    assert [r[:3] for r in results["search_ids"]] == [["person", "350102199003071234", "陈志明"]]
    assert dict((r[0], int(r[1])) for r in results["event_counts"]) == {
        "approval_case": 1, "enterprise": 1, "licence": 1, "person": 1, "sensor_reading": 1}
    assert any(r[2] == "legal_representative" or r[1] == "legal_representative" for r in
               run(session, OBJECT_QUERIES["links"], {"entity_type": "enterprise", "entity_id": "91350100M000100Y43"}))
    assert results["dead_letters_by_reason"] == [["normalize", "id_number.checksum", "1"]]
    assert results["licence_status"][0][3] == "1"


NAMES = ["陈志明", "ABC科技(福建)有限公司", "王", "", "a b", "𠀀字😀", "名" * 40 + "尾", "Ünïcode Ltd"]


def backfilled_tokens(execute: Any, database: str) -> dict[str, set[str]]:
    """Names written before the search index, then the index's migration: the tokens it made per name."""
    migrations = load_migrations()
    apply_migrations(execute, database, migrations[:3])
    rows = " UNION ALL ".join(f"SELECT 'person', 'P{n}', 'name', {literal(v)}, 'd', 's', toUInt64(1), 'e'"
                              for n, v in enumerate(NAMES))
    execute(f"INSERT INTO {database}.attributes {rows}")  # INSERT … SELECT: the driver sends no data block
    apply_migrations(execute, database, migrations)
    found: dict[str, set[str]] = {f"P{n}": set() for n in range(len(NAMES))}
    for entity_id, token in execute(f"SELECT entity_id, token FROM {database}.search_tokens"):
        found[entity_id].add(token)
    return found


def test_the_index_migration_makes_the_sink_s_tokens_on_current_clickhouse(session: Any) -> None:
    found = backfilled_tokens(lambda q: run(session, q), "pobi_backfill")
    assert found == {f"P{n}": set(name_tokens(v)) for n, v in enumerate(NAMES)}
