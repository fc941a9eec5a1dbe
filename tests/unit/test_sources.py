"""Source definitions are checked like contracts (one `file:line: problem`), never hold a password, and become
a Debezium connector whose stored config names the password file only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from foundation.settings import load_settings
from pobi.sources import connector_config
from schemas.registry import default_registry
from topics.sources import SOURCES_DIR, SourceError, load_source

SHIPPED = SOURCES_DIR / "public_security.yaml"


def _variant(tmp_path: Path, change: str, replacement: str) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    assert change in text
    path = tmp_path / "public_security.yaml"
    path.write_text(text.replace(change, replacement), encoding="utf-8")
    return path


def test_the_shipped_source_is_valid_and_becomes_a_connector(tmp_path: Path) -> None:
    settings = load_settings(stack_dir=tmp_path, namespace="t1")
    source = load_source(SHIPPED, default_registry())
    config = connector_config(settings, source)
    assert config["topic.prefix"] == "t1.cdc.public_security"
    assert config["table.include.list"] == r"hukou\.residents"
    assert config["database.password"] == (f"${{dir:{settings.secrets_path / 'postgres'}:"
                                           "dept_public_security.password}")
    assert config["slot.name"] == config["publication.name"] == "t1_pobi_public_security"


@pytest.mark.parametrize(("change", "replacement", "line", "words"), [
    ("  password_file: postgres/dept_public_security.password", "  password: hunter2", 13, "never written"),
    ("    dataset: person", "    dataset: people", 16, "no dataset 'people'"),
    ("      xm: name ", "      xm: nickname ", 19, "no field 'nickname'"),
    ("      zz: address", "      zz: name", 25, "already filled by column xm"),
    ("      gmsfhm: id_number            # 公民身份号码\n", "", 17, "no column fills id_number"),
    ("  hukou.residents:", "  residents:", 14, "schema.table"),
    ("    ignore: [gxsj]", "    ignore: [gxsj, xm]", 27, "both mapped and ignored"),
])
def test_problems_name_their_line(tmp_path: Path, change: str, replacement: str, line: int, words: str) -> None:
    path = _variant(tmp_path, change, replacement)
    with pytest.raises(SourceError) as err:
        load_source(path, default_registry())
    assert str(err.value).startswith(f"{path}:{line}: ") and words in str(err.value), str(err.value)
    assert "hunter2" not in str(err.value)


def test_a_missing_password_file_is_refused(tmp_path: Path) -> None:
    settings = load_settings(stack_dir=tmp_path)
    with pytest.raises(SourceError, match=r"password file .* does not exist"):
        load_source(SHIPPED, default_registry(), settings)


def test_the_file_is_named_after_its_source(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(SourceError, match="named after its source"):
        load_source(path, default_registry())
    assert yaml.safe_load(path.read_text())["source"] == "public_security"


def test_the_source_book_parses_a_document_once_and_again_when_it_changes() -> None:
    from topics.sources import SourceBook, source_document

    book = SourceBook.__new__(SourceBook)  # its lookups, without a consumer
    book.documents, book._refused, book._parsed = {}, set(), {}
    source = load_source(SHIPPED, default_registry())
    book.documents["public_security"] = source_document(source)
    first = book.source("public_security")
    assert first == source and book.source("public_security") is first  # not parsed again per record
    changed = source_document(source.model_copy(update={"system": "hukou-register-v2"}))
    book.documents["public_security"] = changed  # a new message on pobi.sources
    assert book.source("public_security").system == "hukou-register-v2"
    book.documents["public_security"] = {"source": {"source": "public_security"}}  # not a valid definition
    assert book.source("public_security") is None
