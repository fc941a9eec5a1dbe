"""Change-data-capture sources: which department database pobi reads, which of its tables, and how each
table's columns become a dataset's fields.

A source is a YAML file in a folder (``topics/sources/`` by default), checked like a contract (one
``file:line: problem`` per refusal). ``pobi sources apply`` turns each into a Debezium connector on Kafka
Connect and publishes its mapping (never its password) to the compacted topic ``pobi.sources``, which the
worker's CDC stage follows: the department and system of every change come from here, not from the record.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from foundation.errors import PobiError
from foundation.settings import Settings
from schemas.registry import SchemaRegistry
from topics.contract_yaml import located_or_refused, where
from topics.documents import DocumentBook

__all__ = ["SOURCES_DIR", "ColumnMapping", "Connection", "SourceBook", "SourceDefinition", "SourceError",
           "TableMapping", "load_source", "load_sources", "source_document"]

logger = logging.getLogger(__name__)
SOURCES_DIR = Path(__file__).with_name("sources")


class SourceError(PobiError):
    """A source definition that cannot be accepted; the message names the file, the line and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMapping(_Strict):
    """One column: the field it fills, optional value map (``xbdm`` 1 → 男), and its type when the record
    carries no schema (``date``: Debezium's days since 1970)."""

    field: str
    values: dict[str, str | None] | None = None
    type: Literal["text", "date", "number"] | None = None


class TableMapping(_Strict):
    dataset: str
    columns: dict[str, ColumnMapping]
    ignore: list[str] = Field(default_factory=list, description="columns deliberately not published")

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """``xm: name`` is short for ``xm: {field: name}``."""
        if isinstance(value, dict):
            return {column: {"field": spec} if isinstance(spec, str) else spec for column, spec in value.items()}
        return value

    def field_of(self, column: str) -> ColumnMapping | None:
        return self.columns.get(column)


class Connection(_Strict):
    kind: Literal["postgres"] = "postgres"
    host: str
    port: int = Field(5432, ge=1, le=65535)
    database: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    user: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    password_file: str = Field(description="relative to the secrets folder, or absolute; never the password")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("a password is never written in a source definition: give password_file, an "
                             "owner-only file in the secrets folder")
        return data

    def password_path(self, settings: Settings) -> Path:
        path = Path(self.password_file)
        return path if path.is_absolute() else settings.secrets_path / path


class SourceDefinition(_Strict):
    source: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="names its connector, topics and slot")
    department: str = Field(min_length=1, max_length=64)
    system: str = Field(min_length=1, max_length=64)
    connection: Connection | None = None  # None: a mapping for `pobi publish -f debezium` files only
    tables: dict[str, TableMapping] = Field(min_length=1)

    @field_validator("tables")
    @classmethod
    def _qualified(cls, value: dict[str, TableMapping]) -> dict[str, TableMapping]:
        for table in value:
            if table.count(".") != 1 or not all(part.replace("_", "a").isalnum() for part in table.split(".")):
                raise ValueError(f"table {table!r} must be written schema.table (hukou.residents)")
        return value

    def table(self, qualified: str) -> TableMapping | None:
        return self.tables.get(qualified)


def check_source(source: SourceDefinition, registry: SchemaRegistry,
                 settings: Settings | None = None) -> list[tuple[tuple[str | int, ...], str]]:
    """Every problem of a parsed source: (where in the file, what)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for table, mapping in source.tables.items():
        at: tuple[str | int, ...] = ("tables", table)
        if mapping.dataset not in registry.datasets:
            problems.append(((*at, "dataset"), f"no dataset {mapping.dataset!r}; pobi has "
                                                 f"{', '.join(registry.datasets)}"))
            continue
        schema = registry.latest(mapping.dataset)
        fields = {f.name for f in schema.fields}
        seen: dict[str, str] = {}
        for column, spec in mapping.columns.items():
            if spec.field not in fields:
                problems.append(((*at, "columns", column), f"{mapping.dataset} has no field {spec.field!r}; "
                                                           f"its fields are {', '.join(sorted(fields))}"))
            elif spec.field in seen:
                problems.append(((*at, "columns", column), f"field {spec.field} is already filled by column "
                                                           f"{seen[spec.field]}"))
            seen[spec.field] = column
            if column in mapping.ignore:
                problems.append(((*at, "ignore"), f"column {column} is both mapped and ignored"))
        if schema.key_field not in seen:
            problems.append(((*at, "columns"), f"no column fills {schema.key_field}, the key of {mapping.dataset}"))
    if source.connection is not None and settings is not None:
        path = source.connection.password_path(settings)
        if not path.is_file():
            problems.append((("connection", "password_file"), f"the password file {path} does not exist"))
    return problems


def load_source(path: Path, registry: SchemaRegistry, settings: Settings | None = None) -> SourceDefinition:
    """Read and check one source file; SourceError ``file:line: problem`` for the first problem."""
    located = located_or_refused(path)
    if isinstance(located, str):
        raise SourceError(located)
    if not isinstance(located.data, dict):
        raise SourceError(f"{path}:1: a source is a mapping of source, department, system, connection, tables")
    try:
        source = SourceDefinition.model_validate(located.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        connection = located.data.get("connection")
        if loc == ("connection",) and isinstance(connection, dict) and "password" in connection:
            loc = ("connection", "password")  # point at the password itself
        message = f"{'.'.join(map(str, loc)) or 'source'}: {first['msg'].removeprefix('Value error, ')}"
        raise SourceError(where(path, located, loc, message)) from None
    if path.stem != source.source:
        raise SourceError(f"{path}:{located.line(('source',))}: the file must be named after its source "
                          f"({source.source}.yaml)")
    problems = check_source(source, registry, settings)
    if problems:
        loc, message = problems[0]
        raise SourceError(where(path, located, loc, message))
    return source


def load_sources(folder: Path, registry: SchemaRegistry,
                 settings: Settings | None = None) -> tuple[list[SourceDefinition], list[str]]:
    """Every source in ``folder`` (``*.yaml``), and one ``file:line: problem`` per file that is refused."""
    if not folder.is_dir():
        return [], [f"{folder}: no such folder of source definitions"]
    sources, problems = [], []
    for path in sorted(folder.glob("*.yaml")):
        try:
            sources.append(load_source(path, registry, settings))
        except SourceError as exc:
            problems.append(str(exc))
    return sources, problems


def source_document(source: SourceDefinition) -> dict[str, Any]:
    """What ``pobi.sources`` holds for a source: the definition (the password's file name, never the
    password) and when it was applied."""
    return {"source": source.model_dump(mode="json", exclude_none=True), "applied_ts_ms": int(time.time() * 1000)}


class SourceBook(DocumentBook):
    """The sources in force as ``pobi.sources`` says; a document that does not parse is refused and logged."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, settings.topics.sources, "source-book")
        self._refused: set[str] = set()
        # name → (the document it was parsed from, the parsed source): the CDC stage asks once per record
        self._parsed: dict[str, tuple[dict[str, Any], SourceDefinition | None]] = {}

    def changed(self, key: str, document: dict[str, Any] | None) -> None:
        logger.warning("source %s %s", key, "withdrawn" if document is None else "in force")

    def source(self, name: str) -> SourceDefinition | None:
        document = self.documents.get(name)
        if document is None:
            return None
        cached = self._parsed.get(name)
        if cached is not None and cached[0] is document:  # each message on the topic is a new document
            return cached[1]
        found: SourceDefinition | None
        try:
            found = SourceDefinition.model_validate(document.get("source"))
        except ValidationError as exc:
            if name not in self._refused:
                self._refused.add(name)
                logger.error("source %s on pobi.sources refused: %s", name[:60], json.dumps(str(exc)[:200]))
            found = None
        found = found if found is not None and found.source == name else None
        self._parsed[name] = (document, found)
        return found
