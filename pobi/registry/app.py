"""pobi's Schema Registry API: the part of Confluent's REST API that clients read with (the same that Karapace,
Apicurio's compatibility layer and Redpanda implement), on 127.0.0.1:``POBI_REGISTRY_PORT`` (8081):

    GET  /subjects                                      every subject (``<topic>-value``)
    GET  /subjects/{subject}/versions                   its version numbers
    GET  /subjects/{subject}/versions/{version|latest}  {"subject", "version", "id", "schema"}
    GET  /subjects/{subject}/versions/{version}/schema  the schema itself
    GET  /schemas/ids/{id}                              {"schema"}: what a consumer asks for by the record's id
    GET  /schemas/ids/{id}/versions                     [{"subject", "version"}]
    GET  /config, /config/{subject}                     {"compatibilityLevel": "FULL_TRANSITIVE"}
    POST /compatibility/subjects/{subject}/versions/{version|latest}
                                                        {"is_compatible", "messages"}: a proposal judged

Read-only: pobi's schemas change through the repository and `pobi schemas check`, not through this API;
registering answers 405. Errors have the registry's shape, ``{"error_code": 40401, "message": …}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from foundation.settings import Settings
from pobi.registry.ids import SchemaIds
from pobi.registry.judge import InvalidSchema, judge
from pobi.registry.subjects import SubjectVersion, hub_subjects
from schemas.registry import default_registry

__all__ = ["registry_app"]

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
RULE = "FULL_TRANSITIVE"


class RegistryError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


class _Registry:
    """The subjects and their ids, built at start (the schemas are the hub's own: they change with a release)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subjects: dict[str, list[SubjectVersion]] = {}
        self.ids: dict[str, int] = {}  # fingerprint → id
        self._book: SchemaIds | None = None

    def setup(self) -> None:
        self._book = SchemaIds(self.settings)
        self._book.load()
        self.subjects = hub_subjects(self.settings.topics, default_registry())
        wanted = {v.fingerprint: v.canonical for versions in self.subjects.values() for v in versions}
        self.ids = self._book.ensure(wanted)

    def close(self) -> None:
        if self._book is not None:
            self._book.close()

    def versions(self, subject: str) -> list[SubjectVersion]:
        if subject not in self.subjects:
            raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
        return self.subjects[subject]

    def version(self, subject: str, version: str) -> SubjectVersion:
        versions = self.versions(subject)
        if version in ("latest", "-1"):
            return versions[-1]
        if not version.isdigit() or int(version) < 1:
            raise RegistryError(422, 42202, f"The specified version '{version}' is not a valid version id.")
        if int(version) > len(versions):
            raise RegistryError(404, 40402, f"Version {version} not found.")
        return versions[int(version) - 1]

    def by_id(self, schema_id: int) -> list[SubjectVersion]:
        found = [v for versions in self.subjects.values() for v in versions if self.ids.get(v.fingerprint) == schema_id]
        if not found:
            raise RegistryError(404, 40403, f"Schema {schema_id} not found")
        return found

    def described(self, version: SubjectVersion) -> dict[str, Any]:
        return {"subject": version.subject, "version": version.version, "id": self.ids[version.fingerprint],
                "schema": version.canonical}


def registry_app(settings: Settings) -> FastAPI:
    hub = _Registry(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(hub.setup)
        try:
            yield
        finally:
            hub.close()

    app = FastAPI(title="pobi schema registry", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", description=__doc__)

    @app.exception_handler(RegistryError)
    async def registry_error(_request: Request, exc: RegistryError) -> Response:
        return _json({"error_code": exc.code, "message": exc.message}, exc.status)

    @app.get("/subjects")
    async def subjects() -> Response:
        return _json(sorted(hub.subjects))

    @app.get("/subjects/{subject}/versions")
    async def versions(subject: str) -> Response:
        return _json([v.version for v in hub.versions(subject)])

    @app.get("/subjects/{subject}/versions/{version}")
    async def version(subject: str, version: str) -> Response:
        return _json(hub.described(hub.version(subject, version)))

    @app.get("/subjects/{subject}/versions/{version}/schema")
    async def raw_schema(subject: str, version: str) -> Response:
        return _json(hub.version(subject, version).schema)

    @app.get("/schemas/ids/{schema_id}")
    async def schema_by_id(schema_id: int) -> Response:
        return _json({"schema": hub.by_id(schema_id)[0].canonical})

    @app.get("/schemas/ids/{schema_id}/versions")
    async def schema_versions(schema_id: int) -> Response:
        return _json([{"subject": v.subject, "version": v.version} for v in hub.by_id(schema_id)])

    @app.get("/config")
    async def config() -> Response:
        return _json({"compatibilityLevel": RULE})

    @app.get("/config/{subject}")
    async def subject_config(subject: str) -> Response:
        hub.versions(subject)
        return _json({"compatibilityLevel": RULE})

    @app.post("/compatibility/subjects/{subject}/versions/{version}")
    async def compatibility(subject: str, version: str, request: Request) -> Response:
        hub.version(subject, version)
        try:
            body = await request.json()
            text = body["schema"]
            if not isinstance(text, str):
                raise TypeError("schema must be a string holding the schema's JSON")
            problems = judge(hub.versions(subject), text)
        except InvalidSchema as exc:
            raise RegistryError(422, 42201, f"Invalid schema: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(422, 42201, f"Invalid schema: expected {{\"schema\": \"…\"}} ({exc})") from None
        return _json({"is_compatible": not problems, "messages": problems})

    @app.post("/subjects/{subject}/versions")
    async def register(subject: str) -> Response:
        raise RegistryError(405, 405, f"pobi's schemas are changed in its repository, not here ({subject}); "
                                      "test a proposal with POST /compatibility/subjects/{subject}/versions/latest")

    return app
