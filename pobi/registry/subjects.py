"""The subjects pobi's registry serves, named as Confluent's TopicNameStrategy names them (``<topic>-value``),
each with its versions, oldest first: the schemas the hub writes its topics with.

- ``<ns>ingest.<dataset>-value``: the change event a department publishes (one version per ``vN.avsc``);
- ``<ns>norm.<dataset>-value``: the clean event the normaliser writes;
- ``<ns>dlq.<stage>-value``: the dead letter; ``<ns>audit.delivery-value``: the delivery record.

Pure: the subjects come from the schema registry the hub runs with and the settings' topic names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from foundation.topic_names import Topics
from schemas.confluent import canonical_form, schema_fingerprint
from schemas.registry import SchemaRegistry, WireSchema
from topics.dead_letters import DLQ_STAGES

__all__ = ["SubjectVersion", "hub_subjects"]


@dataclass(frozen=True)
class SubjectVersion:
    subject: str
    version: int
    schema: dict[str, Any] = field(repr=False)
    wire: WireSchema = field(repr=False)
    dataset: str | None = None  # for ingest subjects: proposals are judged on the dataset's row

    @cached_property
    def fingerprint(self) -> str:
        return schema_fingerprint(self.schema)

    @cached_property
    def canonical(self) -> str:
        return canonical_form(self.schema)


def _versions(subject: str, schemas: list[WireSchema], dataset: str | None = None) -> list[SubjectVersion]:
    return [SubjectVersion(subject, s.version, s.schema, s, dataset) for s in schemas]


def hub_subjects(topics: Topics, registry: SchemaRegistry) -> dict[str, list[SubjectVersion]]:
    subjects: dict[str, list[SubjectVersion]] = {}
    for dataset in registry.datasets:
        ingest, norm = f"{topics.ingest(dataset)}-value", f"{topics.norm(dataset)}-value"
        subjects[ingest] = _versions(ingest, registry.versions(dataset), dataset)
        subjects[norm] = _versions(norm, registry.versions(f"{dataset}.clean"))
    for stage in DLQ_STAGES:
        name = f"{topics.dlq(stage)}-value"
        subjects[name] = _versions(name, registry.versions("dead_letter"))
    audit = f"{topics.audit_delivery}-value"
    subjects[audit] = _versions(audit, registry.versions("delivery_record"))
    return subjects
