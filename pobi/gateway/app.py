"""The gateway's HTTP face (FastAPI on uvicorn), on 127.0.0.1:``POBI_GATEWAY_PORT``:

    POST /v1/datasets/{dataset}/events   a JSON array or JSON lines of rows or pobi change events
    GET  /v1/openapi.json                this API, described
    GET  /healthz                        the process answers
    GET  /readyz                         Kafka is reachable (else 503)
    GET  /metrics                        the gateway's metrics, in the one catalogue

An answer counts only what Kafka acknowledged: ``200 {"accepted", "rejected": [{"index", "reason",
"message"}], "duplicates": [{"index", "event_id"}], "flags"}``. Refused records also go to ``dlq.ingest``.
413 beyond ``POBI_GATEWAY_MAX_BODY_MB`` or ``POBI_GATEWAY_MAX_RECORDS``; 400 for a path or header that does
not fit; 429 when the gateway already holds its limit of unacknowledged records; 503 while Kafka is
unreachable or when it did not acknowledge every record — both with ``Retry-After``. Sending the same
request again is always safe: what was accepted comes back as duplicates.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import REGISTRY
from starlette.concurrency import run_in_threadpool

from foundation.settings import Settings
from monitoring.metrics import NamespacedRegistry, metrics
from pobi.gateway.callers import CallerBook, CallerRefused
from pobi.gateway.delivery import BatchProducer, QueueFull
from pobi.gateway.ingest import Answer, IngestService, TooManyRecords
from schemas.envelope import SourceRef
from schemas.registry import default_registry
from topics.catalogue import load_catalogue

__all__ = ["gateway_app"]

_DATASET = r"^[a-z][a-z0-9_]{0,63}$"
_KEY = r"^[A-Za-z0-9_.:-]{1,128}$"


def _answer(dataset: str, answer: Answer, started: float) -> JSONResponse:
    headers = {"Retry-After": str(answer.retry_after_s)} if answer.retry_after_s else None
    metrics().gateway_requests.labels(dataset, str(answer.status)).inc()
    metrics().gateway_seconds.labels(dataset).observe(time.perf_counter() - started)
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit`` (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def gateway_app(settings: Settings) -> FastAPI:
    producer = BatchProducer(settings, delivery_timeout_s=settings.gateway_delivery_timeout_s,
                             max_in_flight=settings.gateway_max_in_flight)
    service = IngestService(settings, producer)
    callers = CallerBook(settings, load_catalogue())
    datasets = set(default_registry().datasets)
    limit = settings.gateway_max_body_mb * 1024 * 1024
    exported = NamespacedRegistry(REGISTRY, settings.namespace).registry()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        producer.setup()
        service.setup()
        callers.setup()
        try:
            yield
        finally:
            producer.close()

    app = FastAPI(title="pobi ingest gateway", version="1", lifespan=lifespan, openapi_url="/v1/openapi.json",
                  docs_url=None, redoc_url=None,  # their pages load scripts from a CDN; a government network has none
                  description=__doc__)

    @app.exception_handler(RequestValidationError)
    async def refused_request(_request: Request, exc: RequestValidationError) -> Response:
        """A path or header that does not fit (a dataset name, an Idempotency-Key): 400 in pobi's shape."""
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                             for e in exc.errors())
        return JSONResponse({"error": problems[:500]}, status_code=400)

    @app.post("/v1/datasets/{dataset}/events", summary="Publish rows or change events of a dataset",
              responses={400: {}, 401: {}, 403: {}, 404: {}, 413: {}, 429: {}, 503: {}})
    async def publish_events(
        request: Request,
        dataset: Annotated[str, Path(pattern=_DATASET, description="person, enterprise, licence, …")],
        x_pobi_department: Annotated[str | None, Header(description="plaintext profile: who publishes")] = None,
        x_pobi_system: Annotated[str | None, Header(description="the department's source system")] = None,
        authorization: Annotated[str | None, Header(description="secure profile: Bearer <token>")] = None,
        idempotency_key: Annotated[str | None, Header(pattern=_KEY, description=(
            "optional: rows without an event_id are then known by this key and their place in the batch, "
            "instead of by their content"))] = None,
    ) -> Response:
        started = time.perf_counter()
        known = dataset in datasets
        label = dataset if known else "unknown"  # a client's made-up names add no metric series
        try:
            caller = callers.identify(authorization, x_pobi_department, x_pobi_system)  # who, before anything
            if not known:
                return _answer(label, Answer(404, {"error": f"no dataset {dataset!r}; pobi has "
                                                            f"{', '.join(sorted(datasets))}"}), started)
            callers.check_may_publish(caller, dataset)
        except CallerRefused as refused:
            return _answer(label, Answer(refused.status, {"error": refused.message}), started)
        if not producer.kafka_reachable:
            return _answer(dataset, Answer(503, {"error": "Kafka is unreachable; nothing was accepted"},
                                           retry_after_s=5), started)
        body = await _read_body(request, limit)
        if body is None:
            return _answer(dataset, Answer(413, {"error": f"a request has at most {settings.gateway_max_body_mb} "
                                                          "MiB; split the batch"}), started)
        try:
            batch = await run_in_threadpool(service.prepare, dataset, body,
                                            SourceRef(caller.department, caller.system), idempotency_key)
        except TooManyRecords as exc:
            return _answer(dataset, Answer(413, {"error": f"{exc}; split the batch"}), started)
        await run_in_threadpool(service.leave_out_seen, dataset, batch)
        try:
            answer = await service.deliver(dataset, batch)
        except QueueFull:
            answer = Answer(429, {"error": "the gateway is holding as many records as it may; retry shortly"},
                            retry_after_s=1)
        metrics().gateway_in_flight.set(producer.in_flight)
        return _answer(dataset, answer, started)

    @app.get("/healthz", summary="The gateway process answers")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Kafka is reachable: requests can be accepted")
    async def readyz() -> Response:
        if producer.kafka_reachable:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "Kafka is unreachable"}, status_code=503, headers={"Retry-After": "5"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(exported), media_type=CONTENT_TYPE_LATEST)

    return app
