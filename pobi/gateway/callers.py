"""Who is calling the gateway, and which datasets it may publish.

On the plaintext profile (one machine, loopback only) the caller names itself in ``X-Pobi-Department`` and
``X-Pobi-System``, as ``pobi publish --source-dept`` does. On the secure profile the department comes from
its bearer token — one per owning department, made by ``pobi access apply`` and kept in
``<secrets_dir>/gateway/<department>.password`` — and a department may publish only the datasets whose
``ingest`` topic the catalogue says it owns, as its Kafka ACLs say. A header naming a department is then
ignored: the token speaks for the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from foundation.secrets import secret_digest
from foundation.settings import Settings
from topics.catalogue import Catalogue

__all__ = ["Caller", "CallerBook", "CallerRefused"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Caller:
    department: str
    system: str


class CallerRefused(Exception):  # noqa: N818 - an answer (401/403), not a bug
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class CallerBook:
    def __init__(self, settings: Settings, catalogue: Catalogue) -> None:
        self.secure = settings.secure
        self._settings = settings
        self._owners = {spec.name.removeprefix("ingest."): spec.owner for spec in catalogue.topics
                        if spec.name.startswith("ingest.") and spec.owner}
        self._departments: dict[bytes, str] = {}

    def setup(self) -> None:
        """Read the departments' tokens (secure profile): their digests only are kept."""
        if not self.secure:
            return
        folder = self._settings.secrets_path / "gateway"
        for path in sorted(folder.glob("*.password")) if folder.is_dir() else []:
            self._departments[secret_digest(path.read_text(encoding="utf-8").strip())] = path.stem

    @property
    def departments(self) -> int:
        return len(self._departments)

    def identify(self, authorization: str | None, department: str | None, system: str | None) -> Caller:
        system_name = (system or "gateway").strip()
        if not _NAME.match(system_name):
            raise CallerRefused(400, "X-Pobi-System: letters, digits, '.', '_' and '-', at most 64")
        if self.secure:
            scheme, _, token = (authorization or "").partition(" ")
            found = self._departments.get(secret_digest(token.strip())) if scheme.lower() == "bearer" else None
            if found is None:
                raise CallerRefused(401, "a department's bearer token is required (Authorization: Bearer …)")
            return Caller(found, system_name)
        name = (department or "").strip()
        if not name:
            raise CallerRefused(400, "X-Pobi-Department is required: the publishing department, e.g. "
                                     "public-security")
        if not _NAME.match(name):
            raise CallerRefused(400, "X-Pobi-Department: letters, digits, '.', '_' and '-', at most 64")
        return Caller(name, system_name)

    def check_may_publish(self, caller: Caller, dataset: str) -> None:
        if self.secure and self._owners.get(dataset) != caller.department:
            raise CallerRefused(403, f"department {caller.department} does not publish {dataset}")
