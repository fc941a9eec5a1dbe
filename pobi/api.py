"""The object services as a small JSON HTTP API, served by the worker on 127.0.0.1:``POBI_API_PORT``:

    GET /object/<id>            the 360° view (person, enterprise or licence; any accepted spelling)
    GET /timeline/<id>?limit=N  every event about the entity, oldest first
    GET /search?q=<text>&limit=N
    GET /tracker/<id>?limit=N   who received the entity's data, when, which fields, under which contract
    GET /reads/<id>?limit=N     who looked at the entity (console and API), newest first
    GET /labels                 each field's name in Chinese, from the schemas' docs (the console's headings)
    GET /views/<name>           one dashboard's rows (the business dashboards and the operator's desk)
    GET /dead-letters?stage=S&reason=R&limit=N   the newest dead letters of a stage and reason, with origins
    GET /health
    GET /console/               the web console, its login and the operator's replays (``pobi.console.web``)

Every answered read of an entity (object, timeline, tracker) is recorded on ``audit.read`` when a read log is
given: the reader is ``console@<address>`` or ``api@<address>`` on the plaintext profile (a request from the
console says so in ``X-Pobi-Channel``); on the secure one the console user, or ``api-token`` for a program.

Answers are JSON; an id that fails its check is a 400 with ``{"error": "<why>"}``, an unknown entity a 404;
a bad ``limit`` (not 1…1000) or an over-long id or query a 400 in pobi's words. At most ``MAX_IN_FLIGHT``
requests are answered at once, each query on its own ClickHouse connection; beyond that a request waits a
moment, then gets 503 (retry later). A store that fails answers 503 without the server's own text (it is
logged). An idle connection is closed after ``REQUEST_TIMEOUT_S``. Served by uvicorn (Starlette), the
stack the ingest gateway runs on.
In the secure profile the API speaks HTTPS only and every request needs ``Authorization: Bearer <token>``
(the token is in ``<secrets_dir>/api/token.password``, 0600) or a console user's session; without: 401. A
viewer sees protected fields partially (``pobi.console.access``); the desk's data is for operators (403).
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from foundation.asgi import BackgroundServer
from foundation.errors import PobiError, StoreError
from pobi.console.access import ConsoleUser, ConsoleUsers, Gate, Sessions, role_masks, shown_to
from pobi.console.desk import ReplayDesk
from pobi.console.readlog import Reader, ReadLog
from pobi.console.web import caller, channel_of, console_routes, json_response
from pobi.objects import ObjectService, field_labels
from schemas.registry import default_registry

__all__ = ["MAX_IN_FLIGHT", "ObjectApi", "TlsFiles"]

logger = logging.getLogger(__name__)
MAX_IN_FLIGHT = 16
REQUEST_TIMEOUT_S = 10
MAX_LIMIT = 1000
MAX_ARGUMENT = 200  # characters of an id or a search text
_RECORDED = ("object", "timeline", "tracker")  # the views whose reads go to the read log
_DESK_VIEWS = ("/views/throughput", "/views/dead_letters_by_reason")  # the operator's desk's, not a viewer's
TlsFiles = tuple[str, str]  # the server's certificate and key (PEM files)


class ObjectApi:
    """The API on uvicorn in a thread of its own; the socket is bound by ``start()``, not here."""

    def __init__(self, service: ObjectService, host: str, port: int, *, tls: TlsFiles | None = None,
                 token: str | None = None, reads: ReadLog | None = None, desk: ReplayDesk | None = None,
                 users: ConsoleUsers | None = None, sessions: Sessions | None = None) -> None:
        """``tls``: serve HTTPS with this certificate and key; ``token``: the bearer token a program must carry
        (and then console users log in: ``users``, ``sessions``); ``reads``: where reads are recorded;
        ``desk``: the operator's replays."""
        self.service = service
        self.reads = reads
        self._gate = Gate(token, sessions)
        self._masks = role_masks(default_registry())
        self._in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        app = Starlette(routes=[*console_routes(self._gate, users, desk),
                                Route("/{path:path}", self._endpoint, methods=["GET"])])
        self._server = BackgroundServer(app, host, port, tls=tls, timeout_keep_alive=REQUEST_TIMEOUT_S,
                                        limit_concurrency=MAX_IN_FLIGHT * 8)

    def _limited_answer(self, target: str, user: ConsoleUser, channel: str) -> tuple[int, Any]:
        view = target.strip("/").partition("/")[0].partition("?")[0]
        if not user.operates and (view == "dead-letters" or target.startswith(_DESK_VIEWS)):
            return 403, {"error": "the operator's desk is for operators"}
        if not self._in_flight.acquire(timeout=2):
            return 503, {"error": "the object services are busy; retry in a moment"}
        try:
            status, body = self.answer(target)
        finally:
            self._in_flight.release()
        if status == 200 and view in _RECORDED and self.reads is not None and "entity_id" in body:
            self.reads.record(Reader(user.name, user.role, channel), str(body.get("entity_type", "")),
                              str(body["entity_id"]), view)
        return status, shown_to(user, view, body, self._masks) if status == 200 else body

    async def _endpoint(self, request: Request) -> Response:
        user = caller(self._gate, request)
        if user is None:
            return json_response(401, {"error": "a bearer token (Authorization: Bearer …) or a console login is "
                                                "required"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        status, body = await run_in_threadpool(self._limited_answer, target, user, channel_of(request))
        return json_response(status, body)

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def answer(self, path: str) -> tuple[int, Any]:
        """(HTTP status, JSON body) for a GET of ``path``; never raises, never quotes a server's error."""
        try:
            return self._answer(path)
        except StoreError as exc:
            logger.error("object services: %s", exc)
            return 503, {"error": "the views cannot be read right now; retry later"}
        except PobiError as exc:
            return (404 if "has passed through" in str(exc) else 400), {"error": str(exc)}
        except Exception:  # a bug must not take the API down or show a traceback to a client
            logger.exception("object services failed on %s", path[:200])
            return 500, {"error": "the object services failed; the operator has the details in the log"}

    def _answer(self, path: str) -> tuple[int, Any]:
        parts = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        route, _, arg = parts.path.strip("/").partition("/")
        arg = unquote(arg)
        text = query.get("q", "")
        if len(arg) > MAX_ARGUMENT or len(text) > MAX_ARGUMENT:
            return 400, {"error": f"an id or a search text has at most {MAX_ARGUMENT} characters"}
        raw_limit = query.get("limit", "")
        if raw_limit and not (raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT):
            return 400, {"error": f"limit must be a whole number from 1 to {MAX_LIMIT}"}
        limit = int(raw_limit) if raw_limit else None
        if route == "health":
            return 200, {"status": "ok"}
        if route == "labels":
            return 200, field_labels(default_registry())
        if route == "object" and arg:
            return 200, self.service.object(arg)
        if route == "timeline" and arg:
            return 200, self.service.timeline(arg, limit or 200)
        if route == "search" and text:
            return 200, self.service.search(text, min(limit or 20, 100))
        if route == "tracker" and arg:
            return 200, self.service.tracker(arg, limit or 500)
        if route == "reads" and arg:
            return 200, self.service.reads(arg, limit or 500)
        if route == "views" and arg:
            return 200, self.service.view(arg)
        if route == "dead-letters" and query.get("stage") and query.get("reason"):
            return 200, self.service.dead_letters(query["stage"], query["reason"], limit or 50)
        return 404, {"error": "routes: /object/<id>, /timeline/<id>, /search?q=<text>, /tracker/<id>, /reads/<id>, "
                              "/health, /console/"}
