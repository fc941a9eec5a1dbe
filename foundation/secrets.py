"""The hub's own secret: one random 32-byte key, from which each subscriber's masking and webhook-signing
keys are derived. It lives in a file only its owner can read (``POBI_SECRETS_DIR/hub.key``), created on first
use; it is never in the repository, the environment dump or a log line. Every worker of one deployment must
read the same file (mount it as a secret), or hashes would differ between workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from foundation.connect import read_password, require_owner_only
from foundation.errors import ConfigError
from foundation.settings import Settings

__all__ = ["ensure_password", "hub_key", "hub_key_id", "new_password", "replace_private", "secret_digest",
           "write_private"]


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable by its owner only (0600), in a folder only its owner can enter."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(data)


def replace_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600), replacing the file in one step; for configs that hold a secret."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    write_private(temporary, data)
    temporary.replace(path)


def secret_digest(secret: str) -> bytes:
    """SHA-256 of a password or token: what a server keeps in memory and compares (in constant time) against
    the digest of what a caller presents."""
    return hashlib.sha256(secret.encode()).digest()


def new_password() -> str:
    return secrets.token_urlsafe(24)  # 192 bits, no characters that need quoting in configs


def _create_once(folder: Path, path: Path, data: bytes) -> None:
    """Write ``path`` (0600) unless it exists; ``folder``, the secrets folder, is made 0700 first (mkdir's
    mode applies to the last folder only)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process created it a moment ago
            write_private(path, data)


def ensure_password(settings: Settings, service: str, user: str) -> str:
    """``user``'s password for ``service``: read from its owner-only file, or made and written there once."""
    _create_once(settings.secrets_path, settings.password_path(service, user), new_password().encode())
    return read_password(settings, service, user)


def hub_key(settings: Settings, *, create: bool = False) -> bytes:
    """The hub key. Only ``create`` (`pobi subscriptions apply`, when the first contract is published) makes
    one; a stage that does not find it refuses to start rather than mint a new key, whose pseudonyms and
    webhook signatures would match nothing a subscriber already holds."""
    path = settings.secrets_path / "hub.key"
    if create:
        _create_once(settings.secrets_path, path, secrets.token_bytes(32))
    elif not path.exists():
        raise ConfigError(f"the hub key {path} does not exist. It is made by `pobi subscriptions apply`; if "
                          "contracts were applied before, this process reads another state folder than they were "
                          "(POBI_STACK_DIR / POBI_SECRETS_DIR) — point it at the same one, or restore the key")
    require_owner_only(path)
    key = path.read_bytes()
    if len(key) < 32:
        raise ConfigError(f"{path} holds {len(key)} bytes; a hub key has at least 32")
    return key


def hub_key_id(key: bytes) -> str:
    """A public fingerprint of the hub key (it reveals nothing of it), recorded with every contract applied,
    so a process holding another key notices before it delivers anything."""
    return hmac.new(key, b"pobi hub key id", hashlib.sha256).hexdigest()[:16]
