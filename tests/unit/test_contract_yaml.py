"""Reading contract YAML so that every refusal can name its line: keys and items at any depth, the nearest
ancestor when a value has no line of its own, and refusals that happen before anything is expanded."""

from __future__ import annotations

from pathlib import Path

import pytest

from topics.contract_yaml import UnsafeYaml, read_located_yaml

TEXT = """subscriber: x
datasets:
  person:
    fields: [id_number,
             name]
    masks:
      id_number: hash
"""


def test_every_key_and_item_has_its_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(TEXT, encoding="utf-8")
    located = read_located_yaml(path)
    assert located.data["datasets"]["person"]["fields"] == ["id_number", "name"]
    assert located.line(("subscriber",)) == 1
    assert located.line(("datasets", "person", "fields", 1)) == 5
    assert located.line(("datasets", "person", "masks", "id_number")) == 7
    assert located.line(("datasets", "person", "masks", "name")) == 6  # not there: its parent's line
    assert located.line(("nowhere",)) == 1


@pytest.mark.parametrize(("text", "line", "words"), [
    ("a: 1\nb:\n  c: 2\n  c: 3\n", 4, "key 'c' is given twice (first on line 3)"),
    ("a: [ {x: 1, x: 2} ]\n", 1, "key 'x' is given twice"),
    ("a: &anchor 1\nb: 2\n", 1, "anchors and aliases"),
    ("a: 1\nb: *missing\n", 2, "anchors and aliases"),
])
def test_what_yaml_would_silently_accept_is_refused_with_its_line(tmp_path: Path, text: str, line: int,
                                                                  words: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnsafeYaml) as err:
        read_located_yaml(path)
    assert err.value.line == line and words in err.value.message


def test_a_document_over_the_limit_is_not_even_parsed(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: " + "b" * 100 + "\n", encoding="utf-8")
    with pytest.raises(UnsafeYaml, match="larger than 0 KiB"):
        read_located_yaml(path, max_bytes=50)
    assert read_located_yaml(path, max_bytes=200).data == {"a": "b" * 100}
