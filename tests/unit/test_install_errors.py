from pathlib import Path

import pytest

from foundation.errors import StackError
from pobi.stack import install


def test_missing_java_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(StackError, match="Kafka needs Java 17 or newer, and `java` is not on PATH"):
        install.require_java()


def test_java_found_here_is_17_or_newer() -> None:
    assert Path(install.require_java()).name == "java"


@pytest.mark.stack  # talks to Maven Central
def test_a_kafka_version_maven_cannot_fetch_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(StackError) as err:
        install.fetch_kafka_jars("3.9.99", tmp_path)
    assert str(err.value).startswith("Maven could not fetch Apache Kafka 3.9.99")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "libs-3.9.99" / ".complete").exists()


def test_kafka_cluster_ids_never_look_like_an_option() -> None:
    # about one random id in 64 starts with '-', which made the storage tool's parser fail in CI
    from pobi.stack.kafka import _new_cluster_id

    ids = [_new_cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 22 for i in ids)
