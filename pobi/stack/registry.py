"""pobi's own Schema Registry API (``pobi registry``) as a service of the local stack, so a subscriber's client
— and ``pobi subscribe`` — finds its feed's schemas the moment the stack is up. It runs as the stack's
administrator with the stack's settings, passed in its environment."""

from __future__ import annotations

import os
import sys
import urllib.request

from foundation.connect import tls_context
from foundation.errors import PobiError
from pobi.stack.service import Service

__all__ = ["RegistryService"]


class RegistryService(Service):
    name = "registry"

    @property
    def host(self) -> str:
        return self.settings.bind_host

    @property
    def ports(self) -> list[int]:
        return [self.settings.registry_port]

    def missing_packages(self) -> list[str]:
        return []

    def command(self) -> list[str]:
        return [sys.executable, "-c", "from pobi.cli import main; main()", "registry"]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.settings.as_environment()}

    def is_ready(self) -> bool:
        scheme = "https" if self.settings.secure else "http"
        try:
            context = tls_context(self.settings) if self.settings.secure else None
            with urllib.request.urlopen(f"{scheme}://{self.address}/", timeout=2, context=context) as answer:
                return bool(answer.status == 200)
        except (OSError, PobiError):
            return False
