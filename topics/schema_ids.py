"""Schema ids kept in Kafka, as registries keep them: ``pobi.schemas`` (compacted, one partition) holds one
document per schema, keyed by its fingerprint: ``{"id": n, "schema": "<canonical form>"}``.

An id, once written, is the schema's for ever: every process that reads the topic agrees, and a restart
changes nothing. A new schema gets its natural id (``schemas.confluent.natural_id``) unless another schema
already holds it, then the next free one.
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Producer

from foundation.errors import PobiError
from foundation.kafka import client_config
from foundation.settings import Settings
from schemas.confluent import natural_id
from topics.documents import DocumentBook

__all__ = ["SchemaIds", "assign_ids"]


def assign_ids(known: dict[str, int], wanted: list[str]) -> dict[str, int]:
    """Ids for the fingerprints in ``wanted`` that ``known`` (fingerprint → id) lacks; pure."""
    taken = set(known.values())
    new: dict[str, int] = {}
    for fingerprint in sorted(set(wanted) - set(known)):
        candidate = natural_id(fingerprint)
        while candidate in taken:
            candidate = candidate % 0x7FFFFFFF + 1
        taken.add(candidate)
        new[fingerprint] = candidate
    return new


class SchemaIds(DocumentBook):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, settings.topics.schemas, "registry-ids")
        self._settings = settings

    @property
    def by_fingerprint(self) -> dict[str, int]:
        return {key: int(doc["id"]) for key, doc in self.documents.items() if isinstance(doc.get("id"), int)}

    def schema_of(self, schema_id: int) -> str | None:
        """The canonical form of the schema holding ``schema_id``, if any."""
        return next((str(d["schema"]) for d in self.documents.values() if d.get("id") == schema_id), None)

    def ensure(self, schemas: dict[str, str]) -> dict[str, int]:
        """Ids for ``schemas`` (fingerprint → canonical form), recording the new ones on ``pobi.schemas``
        (waiting for Kafka's acknowledgement) before they are handed out."""
        new = assign_ids(self.by_fingerprint, list(schemas))
        if new:
            producer = Producer(client_config(self._settings, **{"enable.idempotence": True, "acks": "all"}))
            for fingerprint, schema_id in new.items():
                document: dict[str, Any] = {"id": schema_id, "schema": schemas[fingerprint]}
                producer.produce(self._settings.topics.schemas, key=fingerprint.encode(),
                                 value=json.dumps(document).encode())
            if producer.flush(30):
                raise PobiError("Kafka did not acknowledge the new schema ids; is it reachable?")
            for fingerprint, schema_id in new.items():
                self.documents[fingerprint] = {"id": schema_id, "schema": schemas[fingerprint]}
        return self.by_fingerprint
