"""The hub's own secret: one random 32-byte key, from which each subscriber's masking and webhook-signing
keys are derived. It lives in a file only its owner can read (``POBI_SECRETS_DIR/hub.key``), created on first
use; it is never in the repository, the environment dump or a log line. Every worker of one deployment must
read the same file (mount it as a secret), or hashes would differ between workers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from pobi.errors import ConfigError
from pobi.settings import Settings

__all__ = ["hub_key", "write_private"]


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable by its owner only (0600), in a folder only its owner can enter."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(data)


def hub_key(settings: Settings) -> bytes:
    path = settings.secrets_path / "hub.key"
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another worker created it a moment ago
            write_private(path, secrets.token_bytes(32))
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} can be read by others; `chmod 600 {path}`")
    key = path.read_bytes()
    if len(key) < 32:
        raise ConfigError(f"{path} holds {len(key)} bytes; a hub key has at least 32")
    return key
