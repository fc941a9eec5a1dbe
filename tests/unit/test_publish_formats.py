"""What `pobi publish` guesses and forgives, without Kafka: format and encoding detection, workbook cells,
a mapping that extends the shipped one, and a dry run that checks everything and sends nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pobi.publish.adapters import load_header_mapping
from pobi.publish.detect import guess_encoding, guess_format
from pobi.publish.excel import cell_value
from pobi.publish.files import PublishOptions, publish_input
from schemas.envelope import SourceRef
from schemas.registry import default_registry
from schemas.rows import RowError

PERSON = default_registry().latest("person")
SOURCE = SourceRef("public-security", "hukou")


@pytest.mark.parametrize(("name", "head", "expected"), [
    ("a.xlsx", b"PK\x03\x04rest", "excel"), (None, b"PK\x03\x04rest", "excel"), ("a.xls", b"\xd0\xcf\x11\xe0", "excel"),
    ("persons.csv", b'{"looks": "like json"}', "csv"), ("p.jsonl", b'{"a": 1}', "jsonl"),
    (None, b'\xef\xbb\xbf  {"a": 1}', "jsonl"), (None, b"id_number,name\n", "csv"),
    ("c.json", b'{"schema": {}, "payload": {"op": "c"}}', "debezium"),
    (None, b'{"op": "c", "source": {"connector": "postgresql"}}', "debezium"),
])
def test_the_format_is_guessed_from_the_name_then_the_content(name: str | None, head: bytes, expected: str) -> None:
    assert guess_format(name, head).value == expected


def test_the_encoding_is_guessed_and_said() -> None:
    text = "公民身份号码,姓名\n350102199003071234,刘䶮\n"
    assert guess_encoding(text.encode("utf-8")).value == "utf-8"
    assert guess_encoding(text.encode("gb18030")).value == "gb18030"
    assert guess_encoding(b"\xef\xbb\xbf" + text.encode()).value == "utf-8-sig"
    assert guess_encoding(text.encode("utf-16")).value == "utf-16"
    cut = text.encode("utf-8")[:-2]  # a sample that ends inside a character is still UTF-8
    assert guess_encoding(cut[: len(cut) - 1]).value == "utf-8"


def test_cells_as_the_fields_want_them() -> None:
    birth, code, name = (PERSON.field_spec(n) for n in ("birth_date", "division_code", "name"))
    assert cell_value(birth, "birth_date", dt.datetime(1990, 3, 7, tzinfo=dt.UTC)) == "1990-03-07"
    assert cell_value(birth, "birth_date", 32939) == "1990-03-07"  # Excel's serial date
    assert cell_value(code, "division_code", 350102.0) == "350102"
    assert cell_value(name, "name", "") is None
    with pytest.raises(RowError) as err:
        cell_value(PERSON.field_spec("id_number"), "id_number", 3.50102199003071e17)
    assert err.value.reason == "excel.number_as_text" and "文本" in err.value.message


def test_a_mapping_extends_the_shipped_one(tmp_path: Path) -> None:
    extra = tmp_path / "m.yaml"
    extra.write_text("证件号码: id_number\n姓名: name\n", encoding="utf-8")
    mapping = load_header_mapping(extra, "person")
    assert mapping["证件号码"] == "id_number" and mapping["公民身份号码"] == "id_number"  # the shipped one stays
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: b\n  c: [\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"broken.yaml:\d+: not valid YAML") as err:
        load_header_mapping(broken, "person")
    assert "\n" not in str(err.value)


def test_a_dry_run_checks_every_record_and_needs_no_kafka(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    rows = ["公民身份号码,姓名,备注", "350102199003071234,陈志明,x", ",无证号,y",
            f"350102199003071235,{'福' * 400_000},z"]  # the last one too large for Kafka
    path.write_text("\n".join(rows) + "\n", encoding="utf-16")  # Excel's "Unicode text"
    options = PublishOptions(dataset="person", fmt="auto", source=SOURCE, topic="unused", dlq_topic="unused")
    errors = tmp_path / "errors.txt"
    with errors.open("w", encoding="utf-8") as sink:
        summary = publish_input(None, path, options, show_progress=False, errors=sink)
    assert (summary.sent, summary.rejected, summary.encoding) == (1, 2, "utf-16")
    assert summary.guessed[1].startswith("encoding utf-16") and summary.dry_run
    assert summary.flags["row.extra_ignored:备注"] == 1
    assert [line.split(": ")[:2] for line in errors.read_text(encoding="utf-8").splitlines()] == [
        ["people.csv:3", "row.missing_key"], ["people.csv:4", "record.too_large"]]


def test_ctrl_c_says_how_far_it_got(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    import orjson

    from tests.samples import SAMPLE_ROWS

    line = orjson.dumps(SAMPLE_ROWS["person"]) + b"\n"

    class SlowUpload(io.BytesIO):
        """70,000 lines, then the clerk presses Ctrl-C while the command waits for more."""

        def __init__(self) -> None:
            super().__init__(line * 70_000)

        def readline(self, size: int | None = -1) -> bytes:
            got = super().readline(size)
            if not got:
                raise KeyboardInterrupt
            return got

        def __next__(self) -> bytes:
            got = self.readline()
            return got

    monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": SlowUpload()})())
    options = PublishOptions(dataset="person", fmt="jsonl", source=SOURCE, topic="unused", dlq_topic="unused")
    summary = publish_input(None, None, options, show_progress=False)
    assert summary.interrupted and summary.sent == 70_000
