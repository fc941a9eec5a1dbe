"""Reading pobi's registry as a subscriber's client does: by schema id, with the caller's Kafka user as HTTP
Basic credentials and the stack's CA on the secure profile (``pobi subscribe`` decodes its feed this way)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from functools import cache
from typing import Any

from foundation.connect import read_password, tls_context
from foundation.errors import PobiError
from foundation.settings import Settings

__all__ = ["RegistryClient"]


class RegistryClient:
    def __init__(self, settings: Settings, url: str | None = None) -> None:
        self.url = (url or settings.registry_url).rstrip("/")
        self._headers = {"Accept": "application/vnd.schemaregistry.v1+json"}
        self._tls = tls_context(settings) if self.url.startswith("https:") else None
        if settings.secure:
            pair = f"{settings.kafka_user}:{read_password(settings, 'kafka', settings.kafka_user)}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        self.schema = cache(self._schema)

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=15, context=self._tls) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", exc.reason)
            except ValueError:
                message = exc.reason
            raise PobiError(f"the registry at {self.url} answered {exc.code} for {path}: {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PobiError(f"the registry at {self.url} does not answer ({reason}); `pobi registry` serves it "
                            "(the local stack runs one), POBI_REGISTRY_URL says where") from None

    def _schema(self, schema_id: int) -> str:
        """The schema (JSON text) holding ``schema_id``."""
        return str(self.get(f"/schemas/ids/{schema_id}")["schema"])

    def versions(self, subject: str) -> list[Any]:
        """Every version's schema of ``subject``, oldest first."""
        numbers = self.get(f"/subjects/{subject}/versions")
        return [json.loads(self.get(f"/subjects/{subject}/versions/{n}")["schema"]) for n in numbers]
