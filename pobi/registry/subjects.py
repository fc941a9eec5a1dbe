"""The subjects pobi's registry serves, named as Confluent's TopicNameStrategy names them (``<topic>-value``),
each with its versions, oldest first: the schemas the hub writes its topics with.

- ``<ns>ingest.<dataset>-value``: the change event a department publishes (one version per ``vN.avsc``);
- ``<ns>norm.<dataset>-value``: the clean event the normaliser writes;
- ``<ns>dlq.<stage>-value``: the dead letter; ``<ns>audit.delivery-value``, ``<ns>audit.read-value``: the
  delivery and read logs;
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
    for topic, record in ((topics.audit_delivery, "delivery_record"), (topics.audit_read, "read_record")):
        subjects[f"{topic}-value"] = _versions(f"{topic}-value", registry.versions(record))
    return subjects


def feed_subjects(topics: Topics, documents: dict[str, dict[str, Any]],
                  current: dict[str, tuple[int, list[dict[str, Any]]]]) -> dict[str, list[SubjectVersion]]:
    """``out.<subscriber>-value`` for each contract in force, its versions numbered as the contract's: version
    N is the feed schema contract version N delivered with (what a record's ``contract_version`` and a webhook's
    ``dataschema`` name), from the feeds its document lists and the one its contract has today (``current``,
    subscriber → (contract version, feed schema)). A contract applied before feeds were recorded has today's
    version alone."""
    subjects: dict[str, list[SubjectVersion]] = {}
    for subscriber, (version_now, schema_now) in sorted(current.items()):
        feeds = (documents.get(subscriber) or {}).get("feeds")
        by_version: dict[int, Any] = {}
        for feed in feeds if isinstance(feeds, list) else []:
            if isinstance(feed, dict) and isinstance(feed.get("contract_version"), int) \
                    and isinstance(feed.get("schema"), list) and _is_avro(feed["schema"]):
                by_version[feed["contract_version"]] = feed["schema"]
        by_version.setdefault(version_now, schema_now)
        name = f"{topics.out(subscriber)}-value"
        subjects[name] = [SubjectVersion(name, n, by_version[n], None) for n in sorted(by_version)]
    return subjects


def _is_avro(schema: Any) -> bool:
    try:
        schema_fingerprint(schema)
    except Exception:  # a document written by hand: its schema is not served
        return False
    return True
