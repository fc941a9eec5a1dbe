"""pobi's Schema Registry API: the part of Confluent's REST API that clients read with (the same that Karapace,
Apicurio's compatibility layer and Redpanda implement), on 127.0.0.1:``POBI_REGISTRY_PORT`` (8081):

    GET  /subjects                                      every subject (``<topic>-value``) the caller may see
    GET  /subjects/{subject}/versions                   its version numbers
    GET  /subjects/{subject}/versions/{version|latest}  {"subject", "version", "id", "schema"}
    GET  /subjects/{subject}/versions/{version}/schema  the schema itself
    GET  /schemas/ids/{id}                              {"schema"}: what a consumer asks for by the record's id
    GET  /schemas/ids/{id}/versions                     [{"subject", "version"}]
    GET  /config, /config/{subject}                     {"compatibilityLevel": "FULL_TRANSITIVE"} (feeds: NONE)
    POST /compatibility/subjects/{subject}/versions/{version|latest}
                                                        {"is_compatible", "messages"}: a proposal judged

Read-only: pobi's schemas change through the repository and `pobi schemas check`, feeds through their contracts;
registering answers 405. Errors have the registry's shape, ``{"error_code": 40401, "message": …}``. Who sees
which subject: ``pobi.registry.access``. The feeds' subjects follow ``pobi.subscriptions``: a contract applied
while the registry runs is served within a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from confluent_kafka import KafkaException
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from foundation.errors import PobiError
from foundation.settings import Settings
from pobi.registry.access import Reader, RegistryError, RegistryReaders
from pobi.registry.judge import InvalidSchema, avro_of, judge
from pobi.registry.subjects import SubjectVersion, feed_subjects, hub_subjects
from schemas.registry import SchemaRegistry, default_registry
from topics.admin import admin_client, apply_catalogue
from topics.catalogue import Catalogue, load_catalogue
from topics.schema_ids import SchemaIds
from topics.subscriptions import ContractBook, contract_feed

__all__ = ["registry_app"]

logger = logging.getLogger(__name__)
MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
RULE, FEED_RULE = "FULL_TRANSITIVE", "NONE"
_REFRESH_EVERY_S = 1.0


def _json(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


class _Registry:
    """The subjects and their ids: the hub's own (built at start: they change with a release) and the feeds
    (rebuilt when ``pobi.subscriptions`` changes)."""

    def __init__(self, settings: Settings, schemas: SchemaRegistry) -> None:
        self.settings = settings
        self.schemas = schemas
        self.subjects: dict[str, list[SubjectVersion]] = {}
        self.ids: dict[str, int] = {}  # fingerprint → id
        self._own: dict[str, list[SubjectVersion]] = {}
        self._ids: SchemaIds | None = None
        self._contracts: ContractBook | None = None
        self._lock = threading.Lock()  # the Kafka consumers are read from the server's worker threads
        self._refreshed = 0.0

    def setup(self) -> None:
        self._own_topics()
        self._ids, self._contracts = SchemaIds(self.settings), ContractBook(self.settings)
        self._ids.load()
        self._contracts.load()
        self._own = hub_subjects(self.settings.topics, self.schemas)
        self._rebuild()

    def _own_topics(self) -> None:
        """Create the two topics the registry reads if they are missing, as `pobi topics apply` would: the local
        stack starts it before anything is applied. Where it may not (a principal without the right), the
        deployment's own apply has made them."""
        topics = self.settings.topics
        catalogue = load_catalogue().in_namespace(topics.named)
        mine = Catalogue(catalogue.datasets, [catalogue.get(topics.schemas), catalogue.get(topics.subscriptions)])
        try:
            apply_catalogue(admin_client(self.settings), mine)
        except (PobiError, KafkaException) as exc:
            logger.warning("could not make sure %s and %s exist: %s", topics.schemas, topics.subscriptions, exc)

    def _rebuild(self) -> None:
        assert self._ids is not None and self._contracts is not None
        current = {c.subscriber: (c.version, contract_feed(c, self.schemas))
                   for c in self._contracts.contracts(self.schemas)}
        subjects = {**self._own, **feed_subjects(self.settings.topics, self._contracts.documents, current)}
        wanted = {v.fingerprint: v.canonical for versions in subjects.values() for v in versions}
        self.ids = self._ids.ensure(wanted)
        self.subjects = subjects

    def refresh(self) -> None:
        """Follow the contracts (at most once a second: a poll that returns at once when nothing changed)."""
        if time.monotonic() - self._refreshed < _REFRESH_EVERY_S or self._contracts is None:
            return
        with self._lock:
            self._refreshed = time.monotonic()
            if self._contracts.refresh():
                self._rebuild()

    def close(self) -> None:
        for book in (self._contracts, self._ids):
            if book is not None:
                book.close()

    def versions(self, subject: str, reader: Reader) -> list[SubjectVersion]:
        if subject not in self.subjects or not reader.sees(subject):
            raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
        return self.subjects[subject]

    def version(self, subject: str, version: str, reader: Reader) -> SubjectVersion:
        versions = self.versions(subject, reader)
        if version in ("latest", "-1"):
            return versions[-1]
        if not version.isdigit() or int(version) < 1:
            raise RegistryError(422, 42202, f"The specified version '{version}' is not a valid version id.")
        found = next((v for v in versions if v.version == int(version)), None)
        if found is None:
            raise RegistryError(404, 40402, f"Version {version} not found.")
        return found

    def by_id(self, schema_id: int, reader: Reader) -> list[SubjectVersion]:
        found = [v for name, versions in self.subjects.items() if reader.sees(name) for v in versions
                 if self.ids.get(v.fingerprint) == schema_id]
        if not found:
            raise RegistryError(404, 40403, f"Schema {schema_id} not found")
        return found

    def described(self, version: SubjectVersion) -> dict[str, Any]:
        return {"subject": version.subject, "version": version.version, "id": self.ids[version.fingerprint],
                "schema": version.canonical}


def registry_app(settings: Settings, schemas: SchemaRegistry | None = None) -> FastAPI:
    """``schemas``: the hub's schema registry (default: the one pobi ships)."""
    hub = _Registry(settings, schemas or default_registry())
    readers = RegistryReaders(settings, load_catalogue())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(hub.setup)
        try:
            yield
        finally:
            hub.close()

    app = FastAPI(title="pobi schema registry", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", description=__doc__)

    async def reader_of(request: Request) -> Reader:
        reader = readers.identify(request.headers.get("authorization"))
        await run_in_threadpool(hub.refresh)
        return reader

    @app.exception_handler(RegistryError)
    async def registry_error(_request: Request, exc: RegistryError) -> Response:
        headers = {"WWW-Authenticate": 'Basic realm="pobi registry"'} if exc.status == 401 else None
        return JSONResponse({"error_code": exc.code, "message": exc.message}, status_code=exc.status,
                            media_type=MEDIA_TYPE, headers=headers)

    @app.get("/")
    async def root() -> Response:  # as Confluent's registry answers: what a health probe asks for
        return _json({})

    @app.get("/subjects")
    async def subjects(request: Request) -> Response:
        reader = await reader_of(request)
        return _json(sorted(s for s in hub.subjects if reader.sees(s)))

    @app.get("/subjects/{subject}/versions")
    async def versions(subject: str, request: Request) -> Response:
        return _json([v.version for v in hub.versions(subject, await reader_of(request))])

    @app.get("/subjects/{subject}/versions/{version}")
    async def version(subject: str, version: str, request: Request) -> Response:
        return _json(hub.described(hub.version(subject, version, await reader_of(request))))

    @app.get("/subjects/{subject}/versions/{version}/schema")
    async def raw_schema(subject: str, version: str, request: Request) -> Response:
        return _json(hub.version(subject, version, await reader_of(request)).schema)

    @app.get("/schemas/ids/{schema_id}")
    async def schema_by_id(schema_id: int, request: Request) -> Response:
        return _json({"schema": hub.by_id(schema_id, await reader_of(request))[0].canonical})

    @app.get("/schemas/ids/{schema_id}/versions")
    async def schema_versions(schema_id: int, request: Request) -> Response:
        found = hub.by_id(schema_id, await reader_of(request))
        return _json([{"subject": v.subject, "version": v.version} for v in found])

    @app.get("/config")
    async def config(request: Request) -> Response:
        await reader_of(request)
        return _json({"compatibilityLevel": RULE})

    @app.get("/config/{subject}")
    async def subject_config(subject: str, request: Request) -> Response:
        latest = hub.versions(subject, await reader_of(request))[-1]
        return _json({"compatibilityLevel": RULE if latest.wire is not None else FEED_RULE})

    @app.post("/compatibility/subjects/{subject}/versions/{version}")
    async def compatibility(subject: str, version: str, request: Request) -> Response:
        reader = await reader_of(request)
        hub.version(subject, version, reader)
        existing = hub.versions(subject, reader)
        try:
            body = await request.json()
            text = body["schema"]
            if not isinstance(text, str):
                raise TypeError("schema must be a string holding the schema's JSON")
            if existing[-1].wire is None:  # a feed: its rule is NONE, any valid schema may follow
                avro_of(text)
                return _json({"is_compatible": True, "messages": []})
            problems = judge(existing, text)
        except InvalidSchema as exc:
            raise RegistryError(422, 42201, f"Invalid schema: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(422, 42201, f"Invalid schema: expected {{\"schema\": \"…\"}} ({exc})") from None
        return _json({"is_compatible": not problems, "messages": problems})

    @app.post("/subjects/{subject}/versions")
    async def register(subject: str, request: Request) -> Response:
        await reader_of(request)
        raise RegistryError(405, 405, f"pobi's schemas are changed in its repository, not here ({subject}); "
                                      "test a proposal with POST /compatibility/subjects/{subject}/versions/latest")

    return app

