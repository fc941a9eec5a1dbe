"""The hub key and passwords, on real files: made once and only where asked, owner-only, refused when others
can read them or when they are too short; the key's public id says which key applied the contracts."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from foundation.connect import read_password
from foundation.errors import ConfigError
from foundation.secrets import ensure_password, hub_key, hub_key_id, replace_private, write_private
from foundation.settings import Settings, load_settings
from topics.subscriptions import refuse_other_key


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(stack_dir=tmp_path / "state")


def test_the_hub_key_is_made_only_when_asked_and_then_kept(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="made by `pobi subscriptions apply`"):
        hub_key(settings)
    key = hub_key(settings, create=True)
    assert len(key) == 32 and hub_key(settings) == key and hub_key(settings, create=True) == key
    path = settings.secrets_path / "hub.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_key_others_can_read_or_a_short_one_is_refused(settings: Settings) -> None:
    path = settings.secrets_path / "hub.key"
    write_private(path, b"k" * 16)
    with pytest.raises(ConfigError, match="holds 16 bytes"):
        hub_key(settings)
    replace_private(path, b"k" * 32)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="can be read by others"):
        hub_key(settings)


def test_the_key_id_tells_keys_apart_without_telling_the_key(settings: Settings) -> None:
    one, other = hub_key_id(b"a" * 32), hub_key_id(b"b" * 32)
    assert one != other and len(one) == 16 and one == hub_key_id(b"a" * 32)
    assert b"a".hex() * 4 not in one
    refuse_other_key({"x": {"hub_key_id": one}, "y": {}}, one, settings)  # same key, or documents without one
    with pytest.raises(ConfigError, match="another state folder"):
        refuse_other_key({"x": {"hub_key_id": other}}, one, settings)


def test_a_password_is_made_once_and_read_back(settings: Settings) -> None:
    first = ensure_password(settings, "redis", "pobi")
    assert ensure_password(settings, "redis", "pobi") == first == read_password(settings, "redis", "pobi")
    assert len(first) >= 32
    with pytest.raises(ConfigError, match="no password file for kafka user 'nobody'"):
        read_password(settings, "kafka", "nobody")


def test_a_private_file_is_never_overwritten_by_accident(tmp_path: Path) -> None:
    path = tmp_path / "s" / "secret"
    write_private(path, b"one")
    with pytest.raises(FileExistsError):
        write_private(path, b"two")
    replace_private(path, b"two")  # the explicit way
    assert path.read_bytes() == b"two" and stat.S_IMODE(path.stat().st_mode) == 0o600
