"""The schemas pobi ships: the row schema of each dataset, the change-event envelope derived from it, and
the dead-letter record, each kept as versioned ``.avsc`` files (``schemas/avro/<subject>/v<N>.avsc``).

Row fields carry two properties that later stages read: ``pobi.rule`` (which identifier or cleaning rule
applies) and ``pobi.sensitivity`` (public, internal, personal, sensitive). The field marked ``pobi.key`` is
the entity key the record is keyed and partitioned by.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from foundation.errors import SchemaError
from schemas.values import MONEY_UNITS
from schemas.writer import BodyWriter, compile_writer

__all__ = [
    "SCHEMA_ROOT", "SENSITIVITIES", "FieldSpec", "SchemaRegistry", "WireSchema", "change_event_schema",
    "clean_event_schema",
    "default_registry",
]

SCHEMA_ROOT = Path(__file__).with_name("avro")
SENSITIVITIES = ("public", "internal", "personal", "sensitive")
RULES = ("text", "id_number", "uscc", "division_code", "phone", "licence_id", "holder_id", "gender", "date",
         "datetime", None)
OPS = ("c", "u", "d", "r")
_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a dataset's row, with the properties the rules are driven by."""

    name: str
    avro_type: Any
    rule: str | None
    sensitivity: str
    required: bool
    is_key: bool
    doc: str
    unit: str | None = None  # "pobi.unit": an amount's unit of money (万元), which values in 元 or 亿 convert to

    @cached_property  # asked for every value of every row published and normalised
    def base_type(self) -> str:
        """The non-null Avro type name (``string``, ``double``, ``int``…)."""
        if isinstance(self.avro_type, list):
            return str(next(t for t in self.avro_type if t != "null"))
        return str(self.avro_type)


@dataclass(frozen=True)
class WireSchema:
    """One version of a schema as records on a topic are written with it."""

    subject: str  # the dataset name, or "dead_letter"
    version: int
    schema: dict[str, Any] = field(repr=False)
    row: dict[str, Any] | None = field(repr=False)  # the dataset's row schema; None for other subjects
    kind: str = "change"  # change (ingest.*), clean (norm.*, "<dataset>.clean"), delivery (out.*) or other

    @cached_property
    def parsed(self) -> Any:
        return parse_schema(copy.deepcopy(self.schema), named_schemas={})

    @cached_property
    def body_writer(self) -> BodyWriter:
        """The Avro body writer compiled for this schema (``schemas.writer``), for records pobi builds."""
        return compile_writer(self.schema, self.parsed)

    @cached_property
    def fingerprint(self) -> bytes:
        """CRC-64-AVRO of the parsing canonical form, little-endian, as single-object encoding writes it."""
        return bytes.fromhex(fingerprint(to_parsing_canonical_form(self.parsed), "CRC-64-AVRO"))

    @cached_property
    def row_name(self) -> str | None:
        """The row record's full name (``pobi.person.Person``) in change and clean events."""
        if self.row is None:
            return None
        namespace = self.row.get("namespace")
        return f"{namespace}.{self.row['name']}" if namespace else self.row["name"]

    @cached_property
    def fields(self) -> list[FieldSpec]:
        if self.row is None:
            return []
        return [_field_spec(self.subject, self.version, f) for f in self.row["fields"]]

    @cached_property
    def field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)

    @cached_property
    def key_field(self) -> str:
        keys = [f.name for f in self.fields if f.is_key]
        if len(keys) != 1:
            raise SchemaError(f"{self.subject} v{self.version}: exactly one field must be marked pobi.key")
        return keys[0]

    def field_spec(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise SchemaError(f"dataset {self.subject} has no field {name!r}")


def _field_spec(subject: str, version: int, raw: dict[str, Any]) -> FieldSpec:
    where = f"{subject} v{version} field {raw.get('name')!r}"
    sensitivity = raw.get("pobi.sensitivity")
    if sensitivity not in SENSITIVITIES:
        raise SchemaError(f"{where}: pobi.sensitivity must be one of {', '.join(SENSITIVITIES)}")
    rule = raw.get("pobi.rule")
    if rule not in RULES:
        raise SchemaError(f"{where}: unknown pobi.rule {rule!r}")
    avro_type = raw["type"]
    required = not (isinstance(avro_type, list) and "null" in avro_type)
    unit = raw.get("pobi.unit")
    if unit is not None and unit not in MONEY_UNITS:
        raise SchemaError(f"{where}: pobi.unit must be one of {', '.join(MONEY_UNITS)}")
    return FieldSpec(raw["name"], avro_type, rule, sensitivity, required, bool(raw.get("pobi.key")),
                     raw.get("doc", ""), unit)


def change_event_schema(dataset: str, row: dict[str, Any]) -> dict[str, Any]:
    """The change-event envelope of a dataset: Debezium's shape with pobi's event id and source."""
    return {
        "type": "record", "name": "ChangeEvent", "namespace": f"pobi.{dataset}",
        "doc": f"A change to one {dataset} row, as a department published it.",
        "fields": [
            {"name": "event_id", "type": "string", "doc": "unique per publisher event; the dedup key"},
            {"name": "dataset", "type": "string"},
            {"name": "op", "type": {"type": "enum", "name": "Op", "symbols": list(OPS)},
             "doc": "c create, u update, d delete, r snapshot read"},
            {"name": "source", "type": {"type": "record", "name": "Source", "fields": [
                {"name": "department", "type": "string"},
                {"name": "system", "type": "string"},
                {"name": "position", "type": "string", "doc": "where in the source: file:line, LSN, …"},
            ]}},
            {"name": "ts_ms", "type": "long", "doc": "when the change happened at the source, epoch ms"},
            {"name": "before", "type": ["null", row], "default": None},
            {"name": "after", "type": ["null", row["name"] if "namespace" not in row
                                         else f"{row['namespace']}.{row['name']}"], "default": None},
        ],
    }


def clean_event_schema(dataset: str, row: dict[str, Any]) -> dict[str, Any]:
    """A normalised change event on ``norm.<dataset>``: the envelope with cleaned rows, plus where it came
    from, what it is about (entity and related entities), its quality flags and enrichment."""
    envelope = change_event_schema(dataset, row)
    text = "string"
    return {
        "type": "record", "name": "CleanEvent", "namespace": f"pobi.{dataset}",
        "doc": f"A normalised change to one {dataset} row.",
        "fields": [*envelope["fields"],
            {"name": "ingest", "type": {"type": "record", "name": "IngestRef", "fields": [
                {"name": "topic", "type": text}, {"name": "partition", "type": "int"},
                {"name": "offset", "type": "long"},
                {"name": "ts_ms", "type": "long", "doc": "when Kafka received the raw event"}]}},
            {"name": "normalized_ts_ms", "type": "long"},
            {"name": "entity", "type": {"type": "record", "name": "EntityRef", "fields": [
                {"name": "type", "type": text, "doc": "person, enterprise, licence, case, sensor"},
                {"name": "id", "type": text, "doc": "the normalised identifier"}]}},
            {"name": "related", "type": {"type": "array", "items": {
                "type": "record", "name": "RelatedEntity", "fields": [
                    {"name": "role", "type": text, "doc": "legal_representative, holder, applicant, station…"},
                    {"name": "type", "type": text}, {"name": "id", "type": text}]}}, "default": []},
            {"name": "quality_flags", "type": {"type": "array", "items": {
                "type": "record", "name": "QualityFlag", "fields": [
                    {"name": "code", "type": text}, {"name": "field", "type": ["null", text], "default": None},
                    {"name": "message", "type": text}]}}, "default": []},
            {"name": "enrichment", "type": {"type": "map", "values": text}, "default": {},
             "doc": "derived values: division names, birth date and gender from the ID number…"},
        ],
    }


class SchemaRegistry:
    """Every version of every subject under ``root``, found by subject and version or by fingerprint."""

    def __init__(self, root: Path = SCHEMA_ROOT) -> None:
        self.root = root
        self._versions: dict[str, list[WireSchema]] = {}
        self._by_fingerprint: dict[bytes, WireSchema] = {}
        if not root.is_dir():
            raise SchemaError(f"schema folder {root} does not exist")
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            self._load_subject(folder)

    def _load_subject(self, folder: Path) -> None:
        files = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _VERSION_FILE.match(p.name)))
        if not files:
            return
        numbers = [n for n, _ in files]
        if numbers != list(range(1, len(numbers) + 1)):
            raise SchemaError(f"{folder.name}: versions must be v1, v2, … without gaps, found {numbers}")
        versions = []
        for number, path in files:
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise SchemaError(f"{path}: not a readable JSON schema: {exc}") from exc
            is_dataset = any(f.get("pobi.key") for f in raw.get("fields", []))
            wire = change_event_schema(folder.name, raw) if is_dataset else raw
            schema = WireSchema(folder.name, number, wire, raw if is_dataset else None,
                                "change" if is_dataset else "other")
            try:
                schema.parsed  # noqa: B018 - parse now so a broken file fails at load, naming itself
                schema.fields  # noqa: B018
                if is_dataset:
                    schema.key_field  # noqa: B018
            except SchemaError:
                raise
            except Exception as exc:
                raise SchemaError(f"{path}: not a valid Avro schema: {exc}") from exc
            other = self._by_fingerprint.get(schema.fingerprint)
            if other is not None:
                raise SchemaError(f"{path} is identical to {other.subject} v{other.version}")
            self._by_fingerprint[schema.fingerprint] = schema
            versions.append(schema)
            if is_dataset:
                clean = WireSchema(f"{folder.name}.clean", number, clean_event_schema(folder.name, raw), raw, "clean")
                self._by_fingerprint[clean.fingerprint] = clean
                self._versions.setdefault(clean.subject, []).append(clean)
        self._versions[folder.name] = versions

    @property
    def subjects(self) -> list[str]:
        return list(self._versions)

    @property
    def datasets(self) -> list[str]:
        return [s for s, v in self._versions.items() if v[-1].kind == "change"]

    def versions(self, subject: str) -> list[WireSchema]:
        try:
            return self._versions[subject]
        except KeyError:
            raise SchemaError(
                f"unknown dataset or schema {subject!r}; known: {', '.join(self.subjects)}") from None

    def latest(self, subject: str) -> WireSchema:
        return self.versions(subject)[-1]

    def get(self, subject: str, version: int) -> WireSchema:
        versions = self.versions(subject)
        if not 1 <= version <= len(versions):
            raise SchemaError(f"{subject} has versions 1 to {len(versions)}, not {version}")
        return versions[version - 1]

    def by_fingerprint(self, fp: bytes) -> WireSchema | None:
        return self._by_fingerprint.get(fp)


_default: SchemaRegistry | None = None


def default_registry() -> SchemaRegistry:
    """The registry of the schemas shipped with pobi, loaded once per process."""
    global _default
    if _default is None:
        _default = SchemaRegistry()
    return _default
