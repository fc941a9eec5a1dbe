"""Schema evolution rules: every version of a subject must read data written by every other version
(Confluent Schema Registry's FULL_TRANSITIVE).

Apache Avro's resolution checker is the judge. It reports its findings as unordered sets, so to name the
field and the rule broken this module asks it field by field, then once for the whole schema (which
catches what no single field shows, such as a renamed record).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas.registry import SchemaRegistry, WireSchema

__all__ = ["Incompatibility", "check_pair", "check_registry"]


@dataclass(frozen=True)
class Incompatibility:
    subject: str
    reader_version: int
    writer_version: int
    field: str
    rule: str

    def __str__(self) -> str:
        return (f"{self.subject}: v{self.reader_version} cannot read data written by v{self.writer_version}: "
                f"field {self.field!r}: {self.rule}")


def _compatible(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(  # type: ignore[no-untyped-call]  # avro is untyped
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer)))
    return result.compatibility is SchemaCompatibilityType.compatible


def _checked(schema: WireSchema) -> dict[str, Any]:
    """A dataset's row (the envelope around it is fixed in code), or the whole schema otherwise."""
    return schema.row if schema.row is not None else schema.schema


def _one_field(record: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": record["name"], "namespace": record.get("namespace", ""),
            "fields": [field]}


def check_pair(reader: WireSchema, writer: WireSchema) -> list[Incompatibility]:
    """Why ``reader`` cannot read what ``writer`` wrote; empty when it can."""
    r_rec, w_rec = _checked(reader), _checked(writer)
    problems: list[Incompatibility] = []

    def found(field: str, rule: str) -> None:
        problems.append(Incompatibility(reader.subject, reader.version, writer.version, field, rule))

    w_fields = {f["name"]: f for f in w_rec.get("fields", [])}
    for r_field in r_rec.get("fields", []):
        names = [r_field["name"], *r_field.get("aliases", [])]
        w_field = next((w_fields[n] for n in names if n in w_fields), None)
        if w_field is None:
            if "default" not in r_field:
                found(r_field["name"], f"v{reader.version} has it without a default and v{writer.version} "
                      "does not write it: give it a default, or keep the old name as an alias")
            continue
        renamed = dict(w_field, name=r_field["name"])
        if not _compatible(_one_field(r_rec, r_field), _one_field(r_rec, renamed)):
            found(r_field["name"], f"its type changed from {json.dumps(w_field['type'])} (v{writer.version}) "
                  f"to {json.dumps(r_field['type'])} (v{reader.version}), which Avro cannot resolve")
    if not problems and not _compatible(r_rec, w_rec):
        found("(schema)", "the record or one of its named types was renamed without an alias")
    return problems


def check_registry(registry: SchemaRegistry) -> list[Incompatibility]:
    """Every ordered pair of versions of every subject, both directions."""
    problems: list[Incompatibility] = []
    for subject in registry.subjects:
        versions = registry.versions(subject)
        for reader in versions:
            for writer in versions:
                if reader is not writer:
                    problems.extend(check_pair(reader, writer))
    return problems
