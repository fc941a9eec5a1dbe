"""Publishing through every adapter onto the real Kafka, and reading back what arrived."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from foundation.settings import Settings
from pobi.publish.files import PublishOptions, PublishSummary, publish_input
from pobi.stack.manager import Stack
from schemas.codec import Codec
from schemas.envelope import SourceRef
from tests.kafka_helpers import create_topics, read_all
from tests.samples import SAMPLE_ROWS, rows
from topics.producer import Publisher

pytestmark = pytest.mark.stack
SOURCE = SourceRef("public-security", "hukou")


def _write(path: Path, dataset: str, fmt: str, data: list[dict]) -> Path:
    if fmt == "jsonl":
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in data))
    elif fmt == "debezium":
        path.write_bytes(b"".join(orjson.dumps({"schema": {}, "payload": {
            "op": "c", "ts_ms": 1700000000000 + i, "before": None, "after": r,
            "source": {"connector": "postgresql", "db": "gov", "table": dataset, "lsn": 1000 + i}}}) + b"\n"
            for i, r in enumerate(data)))
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in data)
        path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _publish(settings: Settings, path: Path, dataset: str, fmt: str, unique: str, **opts) -> PublishSummary:
    options = PublishOptions(dataset=dataset, fmt=fmt, source=SOURCE, topic=f"t.{unique}.ingest.{dataset}",
                             dlq_topic=f"t.{unique}.dlq.ingest", **opts)
    return publish_input(Publisher(settings), path, options, show_progress=False)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "debezium"])
@pytest.mark.parametrize("dataset", sorted(SAMPLE_ROWS))
def test_every_dataset_and_format_round_trips(live_stack: Stack, settings: Settings, unique: str,
                                              tmp_path: Path, dataset: str, fmt: str) -> None:
    create_topics(settings, f"t.{unique}.ingest.{dataset}", f"t.{unique}.dlq.ingest")
    data = rows(dataset, 20)
    summary = _publish(settings, _write(tmp_path / f"in.{fmt}", dataset, fmt, data), dataset, fmt, unique)
    assert (summary.sent, summary.rejected) == (20, 0)
    codec = Codec()
    got = [codec.decode(m.value())[1] for m in read_all(settings, f"t.{unique}.ingest.{dataset}")]
    key = codec.registry.latest(dataset).key_field
    assert sorted((e["after"] for e in got), key=lambda r: r[key]) == data
    assert {e["dataset"] for e in got} == {dataset}
    assert {e["source"]["department"] for e in got} == {"public-security"}
    assert len({e["event_id"] for e in got}) == 20
    if fmt == "debezium":
        assert {e["op"] for e in got} == {"c"}
        assert min(e["ts_ms"] for e in got) == 1700000000000


def test_publishing_the_same_file_twice_gives_the_same_event_ids(live_stack: Stack, settings: Settings,
                                                                 unique: str, tmp_path: Path) -> None:
    create_topics(settings, f"t.{unique}.ingest.person", f"t.{unique}.dlq.ingest")
    path = _write(tmp_path / "people.csv", "person", "csv", rows("person", 50))
    _publish(settings, path, "person", "csv", unique)
    _publish(settings, path, "person", "csv", unique)
    events = [Codec().decode(m.value())[1] for m in read_all(settings, f"t.{unique}.ingest.person")]
    assert len(events) == 100
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == 50
    # one entity's two copies sit on one partition, under its canonical key
    by_id: dict[str, set[int]] = {}
    for m in read_all(settings, f"t.{unique}.ingest.person"):
        by_id.setdefault(Codec().decode(m.value())[1]["event_id"], set()).add(m.partition())
    assert all(len(parts) == 1 for parts in by_id.values())


def test_malformed_inputs_go_to_the_dlq_with_line_file_and_reason(live_stack: Stack, settings: Settings,
                                                                  unique: str, tmp_path: Path) -> None:
    create_topics(settings, f"t.{unique}.ingest.person", f"t.{unique}.dlq.ingest")
    good = orjson.dumps(SAMPLE_ROWS["person"]).decode()
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + good.encode() + b"\n"                                   # 1 BOM, fine
        + b'{"id_number": "350102199003071234", "name": "\xb3\xc2"}\n'           # 2 GBK bytes for 陈
        + b'{"id_number": "3501021990030\n'                                      # 3 truncated JSON
        + b'{"name": "no key"}\n'                                                # 4 missing key
        + b'{"id_number": "350102199003071234", "trips": 1}\n'                   # 5 unknown field
        + good.encode() + b"\n"                                                  # 6 fine
    )
    summary = _publish(settings, path, "person", "jsonl", unique, extra="reject")  # --extra reject
    assert (summary.sent, summary.rejected) == (2, 4)
    assert dict(summary.reasons) == {"encoding.invalid": 1, "json.malformed": 1, "row.missing_key": 1,
                                     "row.unknown_field": 1}
    letters = sorted((Codec().decode(m.value())[1] for m in read_all(settings, f"t.{unique}.dlq.ingest")),
                     key=lambda d: int(d["context"]["line"]))
    assert [(d["context"]["line"], d["reason"]) for d in letters] == [
        ("2", "encoding.invalid"), ("3", "json.malformed"), ("4", "row.missing_key"), ("5", "row.unknown_field")]
    assert letters[0]["original"] == b'{"id_number": "350102199003071234", "name": "\xb3\xc2"}'
    assert {d["context"]["input"] for d in letters} == {"mixed.jsonl"}
    assert {d["stage"] for d in letters} == {"ingest"} and {d["dataset"] for d in letters} == {"person"}


def test_gbk_csv_published_with_encoding_gbk(live_stack: Stack, settings: Settings, unique: str,
                                             tmp_path: Path) -> None:
    create_topics(settings, f"t.{unique}.ingest.person", f"t.{unique}.dlq.ingest")
    path = tmp_path / "gbk.csv"
    path.write_bytes("公民身份号码,姓名\n350102199003071234,陈志明\n".encode("gbk"))
    summary = _publish(settings, path, "person", "csv", unique, encoding="gbk")
    assert (summary.sent, summary.rejected) == (1, 0)
    (msg,) = read_all(settings, f"t.{unique}.ingest.person")
    assert Codec().decode(msg.value())[1]["after"]["name"] == "陈志明"


def test_files_as_departments_send_them_need_no_flags(live_stack: Stack, settings: Settings, unique: str,
                                                     tmp_path: Path) -> None:
    """A clerk's workbook, a GB 18030 export and JSON lines with numbers as text, all without -f or
    --encoding: what can be read arrives typed, what the spreadsheet spoiled goes to the DLQ saying why."""
    import datetime as dt

    import openpyxl

    for dataset in ("person", "enterprise"):
        create_topics(settings, f"t.{unique}.ingest.{dataset}")
    create_topics(settings, f"t.{unique}.dlq.ingest")
    book = openpyxl.Workbook()
    book.active.title = "填表说明"
    book.active.append(["请按模板填写，身份证号列设为文本"])
    people = book.create_sheet("户籍人口")
    people.append(["福州市鼓楼区户籍人口导出"])
    people.append([])
    people.append(["公民身份号码", "姓名", "性别", "出生日期", "行政区划代码", "民族"])
    people.append(["350102199003071234", "陈志明", "1", dt.date(1990, 3, 7), "350102", "汉"])
    people.append(["35058219851111456X", "王芳", "2", 31362, 350582, "回"])  # a serial date, a numeric code
    people.append([350102199003071234, "林", "2", "1990-03-07", "350102", "汉"])  # Excel ate the last digits
    book.save(tmp_path / "户籍.xlsx")
    summary = _publish(settings, tmp_path / "户籍.xlsx", "person", "auto", unique)
    assert (summary.sent, summary.rejected, summary.fmt) == (2, 1, "excel")
    assert dict(summary.skips) == {"excel.sheet_without_header:填表说明": 1}
    assert summary.flags["row.extra_ignored:民族"] == 2
    assert summary.failures[0].startswith("户籍.xlsx:户籍人口!6: excel.number_as_text:")

    gb = tmp_path / "export.csv"
    gb.write_bytes("公民身份号码,姓名\n350102199003071234,刘䶮\n".encode("gb18030"))  # 䶮: beyond GBK
    summary = _publish(settings, gb, "person", "auto", unique)
    assert (summary.sent, summary.encoding) == (1, "gb18030")

    numbers = tmp_path / "companies.jsonl"
    base = SAMPLE_ROWS["enterprise"]
    numbers.write_text("\n".join(orjson.dumps(base | {"name": n, "registered_capital": v}).decode()
                                 for n, v in [("甲", "2258"), ("乙", "100万元"), ("丙", "1,000.50"), ("丁", "很多")]),
                       encoding="utf-8")
    summary = _publish(settings, numbers, "enterprise", "auto", unique)
    assert (summary.sent, dict(summary.reasons)) == (3, {"value.type": 1})
    assert summary.flags["value.from_text:registered_capital"] == 3

    codec = Codec()
    persons = [codec.decode(m.value())[1]["after"] for m in read_all(settings, f"t.{unique}.ingest.person")]
    assert sorted((p["name"], p["birth_date"], p["division_code"]) for p in persons) == [
        ("刘䶮", None, None), ("王芳", "1985-11-11", "350582"), ("陈志明", "1990-03-07", "350102")]
    capital = {e["after"]["name"]: e["after"]["registered_capital"]
               for e in (codec.decode(m.value())[1] for m in read_all(settings, f"t.{unique}.ingest.enterprise"))}
    assert capital == {"甲": 2258.0, "乙": 100.0, "丙": 1000.5}
    letters = [codec.decode(m.value())[1] for m in read_all(settings, f"t.{unique}.dlq.ingest")]
    assert sorted((d["reason"], d["context"]["line"]) for d in letters) == [
        ("excel.number_as_text", "户籍人口!6"), ("value.type", "4")]
    assert "文本" in next(d["message"] for d in letters if d["reason"] == "excel.number_as_text")


def test_cli_exit_code_says_something_was_rejected(live_stack: Stack, settings: Settings, tmp_path: Path) -> None:
    from topics.admin import admin_client, apply_catalogue
    from topics.catalogue import load_catalogue

    apply_catalogue(admin_client(settings), load_catalogue())
    path = tmp_path / "semicolons.csv"
    path.write_text("id_number;name\n350102199003071234;陈志明\n", encoding="utf-8")
    cmd = [sys.executable, "-c", "from pobi.cli import main; main()", "publish", str(path), "--dataset", "person",
           "--format", "csv", "--source-dept", "public-security", "--system", "hukou", "--json"]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert run.returncode == 3, run.stderr
    summary = orjson.loads(run.stdout)
    assert (summary["sent"], summary["rejected"], summary["reasons"]) == (0, 1, {"csv.header": 1})
    ok_file = _write(tmp_path / "ok.jsonl", "person", "jsonl", rows("person", 3))
    ok = subprocess.run([*cmd[:4], str(ok_file), *cmd[5:8], "jsonl", *cmd[9:]],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert orjson.loads(ok.stdout)["sent"] == 3
    elsewhere = subprocess.run(cmd, capture_output=True, text=True, check=False,
                               env={**os.environ, "POBI_NAMESPACE": "nowhere"})
    assert elsewhere.returncode == 1 and elsewhere.stderr.strip() == (
        "pobi: error: no topic nowhere.ingest.person, nowhere.dlq.ingest on Kafka at 127.0.0.1:9092; "
        "`pobi topics apply` creates pobi's topics")


def test_hostile_records_go_to_the_dlq_and_the_records_after_them_are_published(
        live_stack: Stack, settings: Settings, unique: str, tmp_path: Path) -> None:
    """A cell over csv's default 128 KB, a record over the 1 MB Kafka takes, an int beyond 32 bits, ts_ms
    before 1970 or after 9999: each record goes to the DLQ with its reason, and publishing goes on."""
    create_topics(settings, f"t.{unique}.ingest.person", f"t.{unique}.ingest.approval_case",
                  f"t.{unique}.dlq.ingest")
    person, case = SAMPLE_ROWS["person"], SAMPLE_ROWS["approval_case"]
    lines = [
        person,
        {"op": "c", "ts_ms": -1, "after": person},
        {"op": "c", "ts_ms": 253_402_300_800_000, "after": person},
        person | {"address": "福" * 400_000},  # 1.2 MB
        {"op": "c", "event_id": "x\x1fy", "after": person},
        person,
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    summary = _publish(settings, path, "person", "jsonl", unique)
    assert (summary.sent, summary.rejected) == (2, 4)
    assert dict(summary.reasons) == {"event.ts_out_of_range": 2, "record.too_large": 1, "event.id_invalid": 1}

    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(orjson.dumps(case | {"trips": 2**31}) + b"\n" + orjson.dumps(case) + b"\n")
    summary = _publish(settings, cases, "approval_case", "jsonl", unique)
    assert (summary.sent, dict(summary.reasons)) == (1, {"value.out_of_range": 1})

    big = tmp_path / "big.csv"
    header = ",".join(person)
    row = ",".join(str(v) for v in person.values())
    huge_cell = ",".join("x" * 200_000 if k == "address" else str(v) for k, v in person.items())
    huger_cell = ",".join("x" * 9_000_000 if k == "address" else str(v) for k, v in person.items())
    big.write_text("\n".join([header, row, huge_cell, huger_cell, row]) + "\n", encoding="utf-8")
    summary = _publish(settings, big, "person", "csv", unique)
    assert (summary.sent, dict(summary.reasons)) == (3, {"csv.malformed": 1})

    letters = [Codec().decode(m.value())[1] for m in read_all(settings, f"t.{unique}.dlq.ingest")]
    assert len(letters) == 6
    too_large = [d for d in letters if d["reason"] == "record.too_large"]
    assert len(too_large[0]["original"]) <= 256 * 1024 and "original_sha256" in too_large[0]["context"]
