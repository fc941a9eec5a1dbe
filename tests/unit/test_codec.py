import json
import shutil
from pathlib import Path

import pytest

from foundation.errors import DecodeError, SchemaError
from schemas.codec import MAGIC, Codec
from schemas.compatibility import check_registry
from schemas.registry import SCHEMA_ROOT, SchemaRegistry, default_registry
from tests.samples import SAMPLE_ROWS


def _event(dataset: str, row: dict) -> dict:
    return {"event_id": "e-1", "dataset": dataset, "op": "c",
            "source": {"department": "d", "system": "s", "position": "f:1"}, "ts_ms": 1, "before": None,
            "after": row}


@pytest.mark.parametrize("dataset", sorted(SAMPLE_ROWS))
def test_every_dataset_round_trips(dataset: str) -> None:
    codec = Codec()
    data = codec.encode(dataset, _event(dataset, SAMPLE_ROWS[dataset]))
    assert data[:2] == MAGIC
    assert data[2:10] == default_registry().latest(dataset).fingerprint
    schema, record = codec.decode(data)
    assert schema.subject == dataset
    assert record["after"] == SAMPLE_ROWS[dataset]


def test_shipped_schemas_are_compatible_and_fields_carry_properties() -> None:
    registry = default_registry()
    assert check_registry(registry) == []
    person = registry.latest("person")
    assert person.key_field == "id_number"
    assert person.field_spec("id_number").rule == "id_number"
    assert person.field_spec("id_number").sensitivity == "sensitive"
    assert person.field_spec("phone").sensitivity == "personal"
    assert registry.latest("enterprise").field_spec("legal_rep_id").rule == "id_number"


def test_not_a_pobi_record() -> None:
    with pytest.raises(DecodeError, match="does not start with the Avro single-object marker"):
        Codec().decode(b'{"json": true}')


def test_unknown_fingerprint_is_named() -> None:
    with pytest.raises(DecodeError, match="fingerprint 0102030405060708"):
        Codec().decode(MAGIC + bytes(range(1, 9)) + b"\x00")


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_truncated_body_is_a_decode_error(cut: int) -> None:
    data = Codec().encode("person", _event("person", SAMPLE_ROWS["person"]))
    with pytest.raises(DecodeError, match="corrupt person v1 record"):
        Codec().decode(data[:-cut])


def test_trailing_garbage_is_a_decode_error() -> None:
    data = Codec().encode("person", _event("person", SAMPLE_ROWS["person"]))
    with pytest.raises(DecodeError, match="trailing bytes"):
        Codec().decode(data + b"\x00\x01")


def _evolved_root(tmp_path: Path, v3_breaks: bool) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMA_ROOT / "person", root / "person")
    v1 = json.loads((root / "person" / "v1.avsc").read_text())
    v2 = json.loads(json.dumps(v1))
    v2["fields"].append({"name": "ethnicity", "type": ["null", "string"], "default": None,
                         "pobi.rule": "text", "pobi.sensitivity": "personal"})
    (root / "person" / "v2.avsc").write_text(json.dumps(v2))
    if v3_breaks:
        v3 = json.loads(json.dumps(v2))
        v3["fields"] = [f for f in v3["fields"] if f["name"] != "phone"]
        v3["fields"].append({"name": "mobile", "type": "string", "pobi.rule": "phone",
                             "pobi.sensitivity": "personal"})
        (root / "person" / "v3.avsc").write_text(json.dumps(v3))
    return root


def test_v1_and_v2_read_each_other(tmp_path: Path) -> None:
    registry = SchemaRegistry(_evolved_root(tmp_path, v3_breaks=False))
    assert check_registry(registry) == []
    codec = Codec(registry)
    v2_data = codec.encode("person", _event("person", {**SAMPLE_ROWS["person"], "ethnicity": "汉"}), version=2)
    _, as_v1 = codec.decode(v2_data, reader_version=1)
    assert "ethnicity" not in as_v1["after"] and as_v1["after"]["name"] == "陈志明"
    v1_data = codec.encode("person", _event("person", SAMPLE_ROWS["person"]), version=1)
    schema, as_v2 = codec.decode(v1_data)
    assert schema.version == 2 and as_v2["after"]["ethnicity"] is None


def test_broken_v3_is_refused_with_the_field_named(tmp_path: Path) -> None:
    problems = check_registry(SchemaRegistry(_evolved_root(tmp_path, v3_breaks=True)))
    assert problems
    text = "\n".join(map(str, problems))
    assert "v3 cannot read data written by v1: field 'mobile'" in text
    assert "without a default" in text
    assert {p.reader_version for p in problems} == {3}


def test_type_change_is_refused(tmp_path: Path) -> None:
    root = _evolved_root(tmp_path, v3_breaks=False)
    v3 = json.loads((root / "person" / "v2.avsc").read_text())
    for field in v3["fields"]:
        if field["name"] == "gender":
            field["type"] = ["null", "int"]
    (root / "person" / "v3.avsc").write_text(json.dumps(v3))
    text = "\n".join(map(str, check_registry(SchemaRegistry(root))))
    assert "field 'gender': its type changed" in text


def test_a_gap_in_versions_or_a_bad_property_is_refused(tmp_path: Path) -> None:
    root = _evolved_root(tmp_path, v3_breaks=False)
    (root / "person" / "v2.avsc").rename(root / "person" / "v4.avsc")
    with pytest.raises(SchemaError, match="without gaps"):
        SchemaRegistry(root)
    (root / "person" / "v4.avsc").unlink()
    v1 = json.loads((root / "person" / "v1.avsc").read_text())
    v1["fields"][1]["pobi.sensitivity"] = "secret"
    (root / "person" / "v1.avsc").write_text(json.dumps(v1))
    with pytest.raises(SchemaError, match=r"pobi\.sensitivity must be one of"):
        SchemaRegistry(root)


def test_schemas_check_command_refuses_broken_v3_naming_the_field(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = _evolved_root(tmp_path, v3_breaks=True)
    run = subprocess.run([sys.executable, "-c", "from pobi.cli import main; main()", "schemas", "check",
                          "--root", str(root)], capture_output=True, text=True, check=False)
    assert run.returncode == 3
    assert "person: v3 cannot read data written by v1: field 'mobile'" in run.stdout
    ok = subprocess.run([sys.executable, "-c", "from pobi.cli import main; main()", "schemas", "check"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "all FULL_TRANSITIVE compatible" in ok.stdout
