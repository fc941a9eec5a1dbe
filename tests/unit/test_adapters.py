import hashlib
import random
import uuid

import orjson
import pytest

from pobi.publish.adapters import Draft, Rejected, Skipped, load_header_mapping, read_csv, read_debezium, read_jsonl
from schemas.envelope import _EVENT_NAMESPACE, SourceRef, change_event_id, event_id_for, partition_key
from schemas.registry import default_registry
from schemas.rows import RowError, check_row
from tests.samples import SAMPLE_ROWS

PERSON = default_registry().latest("person")
ENTERPRISE = default_registry().latest("enterprise")


def _lines(*texts: str, encoding: str = "utf-8") -> list[bytes]:
    return [(t + "\n").encode(encoding) for t in texts]


def test_jsonl_rows_and_envelopes() -> None:
    envelope = {"event_id": "e-9", "op": "u", "ts_ms": 5, "source": {"position": "lsn:7"},
                "before": None, "after": SAMPLE_ROWS["person"]}
    items = list(read_jsonl(_lines(orjson.dumps(SAMPLE_ROWS["person"]).decode(), "", orjson.dumps(envelope).decode())))
    assert [type(i) for i in items] == [Draft, Draft]
    assert items[0].op is None and items[0].after == SAMPLE_ROWS["person"]
    assert (items[1].op, items[1].event_id, items[1].position, items[1].ts_ms, items[1].line) == (
        "u", "e-9", "lsn:7", 5, 3)


def test_truncated_json_is_rejected_with_its_line() -> None:
    items = list(read_jsonl(_lines('{"id_number": "1"}', '{"id_number": "35010')))
    assert isinstance(items[1], Rejected)
    assert (items[1].line, items[1].reason, items[1].raw) == (2, "json.malformed", b'{"id_number": "35010')


def test_utf8_bom_is_dropped() -> None:
    raw = [b'\xef\xbb\xbf{"id_number": "350102199003071234"}\n']
    (item,) = read_jsonl(raw)
    assert isinstance(item, Draft) and item.after == {"id_number": "350102199003071234"}


def test_gbk_read_as_utf8_is_rejected_with_a_hint_and_read_as_gbk_is_fine() -> None:
    raw = _lines('{"id_number": "350102199003071234", "name": "陈志明"}', encoding="gbk")
    (bad,) = read_jsonl(raw)
    assert isinstance(bad, Rejected) and bad.reason == "encoding.invalid" and "--encoding gbk" in bad.message
    (good,) = read_jsonl(raw, encoding="gbk")
    assert isinstance(good, Draft) and good.after["name"] == "陈志明"


def test_csv_with_chinese_headers_through_the_shipped_mapping() -> None:
    lines = _lines("公民身份号码,姓名,性别,联系电话", "350102199003071234,陈志明,1,13905910001")
    (item,) = read_csv(lines, PERSON, load_header_mapping(None, "person"))
    assert isinstance(item, Draft)
    assert item.after == {"id_number": "350102199003071234", "name": "陈志明", "gender": "1", "phone": "13905910001"}


def test_csv_wrong_delimiter_rejects_every_row_with_the_reason() -> None:
    lines = _lines("id_number;name", "350102199003071234;陈志明", "350102199003071235;林")
    items = list(read_csv(lines, PERSON, {}))
    assert [i.reason for i in items] == ["csv.header", "csv.header"]
    assert [i.line for i in items] == [2, 3]
    assert "delimiter" in items[0].message and items[0].raw == "350102199003071234;陈志明".encode()


def test_csv_types_and_column_counts() -> None:
    lines = _lines("uscc,name,registered_capital", "91350100M000100Y43,闽江,500", "X,Y", "Z,W,12万斤",
                   "Z,W,\"1,200.5万元\"", "Z,W,3000元", "Z,W,1.5亿")
    items = list(read_csv(lines, ENTERPRISE, {}))
    assert isinstance(items[0], Draft) and items[0].after["registered_capital"] == 500.0
    assert (items[1].reason, items[2].reason) == ("csv.columns", "value.type")
    assert "registered_capital" in items[2].message
    assert [i.after["registered_capital"] for i in items[3:]] == [1200.5, 0.3, 15000.0]  # in 万元, the field's unit


def test_debezium_wrapped_unwrapped_tombstone_and_truncate() -> None:
    payload = {"op": "u", "ts_ms": 1700000009999, "before": {"id_number": "1"}, "after": {"id_number": "1"},
               "source": {"connector": "mysql", "db": "hukou", "table": "person", "file": "binlog.000003", "pos": 4711,
                          "ts_ms": 1700000000000}}
    lines = _lines(orjson.dumps({"schema": {}, "payload": payload}).decode(), orjson.dumps(payload).decode(),
                   "null", orjson.dumps({"payload": {**payload, "op": "t"}}).decode(),
                   orjson.dumps({"payload": {**payload, "op": "x"}}).decode())
    items = list(read_debezium(lines, "utf-8", default_registry(), "person", SourceRef("public-security", "hukou")))
    assert isinstance(items[0], Draft) and items[0].op == "u" and items[0].ts_ms == 1700000000000
    assert items[0].position == "debezium:mysql::hukou:hukou.person:file=binlog.000003,pos=4711,key=1"
    assert isinstance(items[1], Draft) and items[1].event_id == items[0].event_id
    assert isinstance(items[2], Skipped) and items[2].reason == "debezium.tombstone"
    assert isinstance(items[3], Skipped) and items[3].reason == "debezium.truncate"
    assert isinstance(items[4], Rejected) and items[4].reason == "debezium.not_change_event"


@pytest.mark.parametrize(("row", "reason"), [
    ({"name": "x"}, "row.missing_key"),
    ({"id_number": "  "}, "row.missing_key"),
    ({"id_number": "1", "nickname": "x"}, "row.unknown_field"),
    ({"id_number": 350102199003071234}, "value.type"),
    (["not", "an", "object"], "row.not_object"),
])
def test_rows_that_cannot_become_envelopes(row: object, reason: str) -> None:
    with pytest.raises(RowError) as err:
        check_row(PERSON, row)
    assert err.value.reason == reason


def test_dirty_but_well_typed_values_pass_unchanged() -> None:
    dirty = {"id_number": "３５０１０２１９９００３０７１２３ｘ", "name": "\u3000陈志明 ", "birth_date": "1990年3月7日"}
    assert check_row(PERSON, dirty)["id_number"] == dirty["id_number"]
    assert check_row(PERSON, dirty)["name"] == dirty["name"]


def test_event_ids_are_deterministic_and_content_sensitive() -> None:
    src = SourceRef("public-security", "hukou")
    assert event_id_for(src, "a.csv:2", b"x") == event_id_for(src, "a.csv:2", b"x")
    assert event_id_for(src, "a.csv:2", b"x") != event_id_for(src, "a.csv:2", b"y")
    assert event_id_for(src, "a.csv:2", b"x") != event_id_for(SourceRef("other", "hukou"), "a.csv:2", b"x")


def test_event_ids_are_rfc_4122_uuid5_as_before() -> None:
    """Ids are built by hand for speed; they must stay what ``uuid.uuid5`` gave, or a file published again
    after an upgrade would not be recognised as a repeat."""
    rng = random.Random(7)
    for n in range(500):
        src = SourceRef(rng.choice(["public-security", "市场监管局", "x" * rng.randint(1, 90)]), f"sys-{n}")
        position, raw = f"文件{n}.csv:{rng.randint(0, 10**9)}", rng.randbytes(rng.randint(0, 200))
        digest = hashlib.sha256(raw).hexdigest()[:32]
        name = f"{src.department}\x1f{src.system}\x1f{position}"
        assert event_id_for(src, position, raw) == str(uuid.uuid5(_EVENT_NAMESPACE, f"{name}\x1f{digest}"))
        assert change_event_id(src, position) == str(uuid.uuid5(_EVENT_NAMESPACE, name))


def test_partition_key_folds_spellings_of_one_entity() -> None:
    folded = partition_key("３５０１０２ １９９００３０７１２３ｘ")
    assert folded == partition_key("35010219900307123X") == b"35010219900307123X"
