"""How clients are configured, pure: the plaintext stack adds nothing; the secure profile authenticates as
the process's own user with its owner-only password and trusts only pobi's CA; a missing user is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.connect import kafka_security
from foundation.errors import ConfigError
from foundation.kafka import client_config, origin
from foundation.secrets import write_private
from foundation.settings import load_settings
from tests.doubles import FakeMessage


def test_the_plaintext_stack_adds_no_security(tmp_path: Path) -> None:
    settings = load_settings(stack_dir=tmp_path)
    config = client_config(settings, **{"group.id": "g"})
    assert config["bootstrap.servers"] == settings.kafka_bootstrap and config["group.id"] == "g"
    assert "security.protocol" not in config and kafka_security(settings) == {}


def test_the_secure_profile_connects_as_its_own_user(tmp_path: Path) -> None:
    settings = load_settings(stack_dir=tmp_path, security="secure", kafka_user="dept-public-security")
    write_private(settings.password_path("kafka", "dept-public-security"), b"s3cret-of-the-department\n")
    write_private(tmp_path / "tls" / "ca.crt", b"-----BEGIN CERTIFICATE-----\n")
    security = kafka_security(settings)
    assert security["security.protocol"] == "SASL_SSL" and security["sasl.mechanism"] == "SCRAM-SHA-512"
    assert security["sasl.username"] == "dept-public-security"
    assert security["sasl.password"] == "s3cret-of-the-department"
    assert security["ssl.ca.location"] == str(tmp_path / "tls" / "ca.crt")


def test_the_secure_profile_without_a_user_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs POBI_KAFKA_USER"):
        kafka_security(load_settings(stack_dir=tmp_path, security="secure"))


def test_a_consumed_record_s_origin() -> None:
    assert origin(FakeMessage("ingest.person", 3, 41, b"x")) == ("ingest.person", 3, 41)  # type: ignore[arg-type]
