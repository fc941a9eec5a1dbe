"""The subjects pobi's registry serves, named as Confluent's TopicNameStrategy names them (``<topic>-value``),
each with its versions, oldest first: the schemas the hub writes its topics with.

- ``<ns>ingest.<dataset>-value``: the change event a department publishes (one version per ``vN.avsc``);
- ``<ns>norm.<dataset>-value``: the clean event the normaliser writes;
- ``<ns>dlq.<stage>-value``: the dead letter; ``<ns>audit.delivery-value``: the delivery record;
- ``<ns>out.<subscriber>-value``: a subscriber's feed, one version per contract version whose feed schema
  differed (a union of the contract's per-dataset delivery records). A contract may take fields away, so a
  feed's rule is NONE: its consumers read each record with the schema it names.

Pure: the subjects come from the schema registry the hub runs with, the contracts' documents on
``pobi.subscriptions`` and the settings' topic names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from foundation.topic_names import Topics
from schemas.confluent import canonical_form, schema_fingerprint
from schemas.registry import SchemaRegistry, WireSchema
from topics.dead_letters import DLQ_STAGES

__all__ = ["SubjectVersion", "feed_subjects", "hub_subjects"]


@dataclass(frozen=True)
class SubjectVersion:
    subject: str
    version: int
    schema: dict[str, Any] | list[Any] = field(repr=False)
    wire: WireSchema | None = field(repr=False)  # None for a feed: no rule to judge proposals by
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


def feed_subjects(topics: Topics, documents: dict[str, dict[str, Any]],
                  current: dict[str, list[dict[str, Any]]]) -> dict[str, list[SubjectVersion]]:
    """``out.<subscriber>-value`` for each contract in force: the feed schemas its document lists, oldest first,
    then the one its contract has today (``current``, subscriber → feed schema) if that differs from them all
    (a contract applied before feeds were recorded, or a dataset schema released since)."""
    subjects: dict[str, list[SubjectVersion]] = {}
    for subscriber, schema_now in sorted(current.items()):
        feeds = (documents.get(subscriber) or {}).get("feeds")
        schemas = [f["schema"] for f in feeds if isinstance(f, dict) and isinstance(f.get("schema"), list)] \
            if isinstance(feeds, list) else []
        by_fingerprint: dict[str, list[Any]] = {}
        for schema in [*schemas, schema_now]:
            try:
                by_fingerprint.setdefault(schema_fingerprint(schema), schema)
            except Exception:
                continue
        name = f"{topics.out(subscriber)}-value"
        subjects[name] = [SubjectVersion(name, n, schema, None) for n, schema in
                          enumerate(by_fingerprint.values(), start=1)]
    return subjects
