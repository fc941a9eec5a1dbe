"""Who reads pobi's registry, and which subjects each may see.

On the plaintext profile (one machine, loopback only) everyone sees every subject. On the secure profile the
API speaks HTTPS and asks for HTTP Basic credentials — the Kafka user and password a client already holds
(``basic.auth.user.info``), kept by ``pobi access apply`` in ``<secrets_dir>/kafka/<user>.password``:

- a subscriber (``sub-<name>``) sees only its feed's subject, ``out.<name>-value``;
- a department (``dept-<name>``) sees the ingest subjects of the datasets it owns, to test proposals;
- the administrator and pobi's own services see all.

A subject someone may not see answers as one that does not exist (404), so names do not leak.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from dataclasses import dataclass

from foundation.secrets import secret_digest
from foundation.settings import Settings
from pobi.stack.profile import KAFKA_ADMIN
from topics.access import GATEWAY_USER, REGISTRY_USER, WORKER_USER, department_user, subscriber_user
from topics.catalogue import Catalogue

__all__ = ["Reader", "RegistryError", "RegistryReaders"]

_RELOAD_AFTER_S = 5.0  # a user created by `pobi access apply` is known within seconds, without a restart


class RegistryError(Exception):
    """An answer in the registry's error shape: ``{"error_code": code, "message": …}``."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Reader:
    user: str
    subjects: frozenset[str] | None  # None: every subject

    def sees(self, subject: str) -> bool:
        return self.subjects is None or subject in self.subjects


class RegistryReaders:
    def __init__(self, settings: Settings, catalogue: Catalogue) -> None:
        self._settings = settings
        self._topics = settings.topics
        self._owned: dict[str, set[str]] = {}
        for spec in catalogue.topics:
            if spec.name.startswith("ingest.") and spec.owner:
                self._owned.setdefault(department_user(spec.owner), set()).add(spec.name.removeprefix("ingest."))
        self._digests: dict[str, bytes] = {}
        self._read_at = 0.0

    def _reload(self) -> None:
        folder = self._settings.secrets_path / "kafka"
        self._digests = {path.stem: secret_digest(path.read_text(encoding="utf-8").strip())
                         for path in sorted(folder.glob("*.password"))} if folder.is_dir() else {}
        self._read_at = time.monotonic()

    def identify(self, authorization: str | None) -> Reader:
        if not self._settings.secure:
            return Reader("", None)
        user, password = _basic(authorization)
        if user not in self._digests and time.monotonic() - self._read_at > _RELOAD_AFTER_S:
            self._reload()
        known = self._digests.get(user)
        if known is None or not hmac.compare_digest(known, secret_digest(password)):
            raise RegistryError(401, 401, "Unauthorized: give a Kafka user and its password as HTTP Basic "
                                          "credentials (basic.auth.user.info)")
        return Reader(user, self.visible_to(user))

    def visible_to(self, user: str) -> frozenset[str] | None:
        if user in (KAFKA_ADMIN, WORKER_USER, GATEWAY_USER, REGISTRY_USER):
            return None
        if user in self._owned:
            return frozenset(f"{self._topics.ingest(d)}-value" for d in self._owned[user])
        subscriber = user.removeprefix("sub-")
        if user == subscriber_user(subscriber):
            return frozenset({f"{self._topics.out(subscriber)}-value"})
        return frozenset()


def _basic(authorization: str | None) -> tuple[str, str]:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if sep:
            return user, password
    raise RegistryError(401, 401, "Unauthorized: HTTP Basic credentials are required (basic.auth.user.info)")
