"""The object services as a small JSON HTTP API, served by the worker on 127.0.0.1:``POBI_API_PORT``:

    GET /object/<id>            the 360° view (person, enterprise or licence; any accepted spelling)
    GET /timeline/<id>?limit=N  every event about the entity, oldest first
    GET /search?q=<text>&limit=N
    GET /tracker/<id>?limit=N   who received the entity's data, when, which fields, under which contract
    GET /health

Answers are JSON; an id that fails its check is a 400 with ``{"error": "<why>"}``, an unknown entity a 404;
a bad ``limit`` (not 1…1000) or an over-long id or query a 400 in pobi's words. At most ``MAX_IN_FLIGHT``
requests are answered at once, each query on its own ClickHouse connection; beyond that a request waits a
moment, then gets 503 (retry later). A store that fails answers 503 without the server's own text (it is
logged). A client that sends nothing for ``REQUEST_TIMEOUT_S`` is disconnected.
In the secure profile the API speaks HTTPS only and every request needs ``Authorization: Bearer <token>``
(the token is in ``<secrets_dir>/api/token.password``, 0600); without it: 401.
"""

from __future__ import annotations

import hmac
import logging
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from foundation.errors import PobiError, StoreError
from pobi.objects import ObjectService

__all__ = ["MAX_IN_FLIGHT", "ObjectApi"]

logger = logging.getLogger(__name__)
MAX_IN_FLIGHT = 16
REQUEST_TIMEOUT_S = 10
MAX_LIMIT = 1000
MAX_ARGUMENT = 200  # characters of an id or a search text


class ObjectApi:
    def __init__(self, service: ObjectService, host: str, port: int, *, tls: ssl.SSLContext | None = None,
                 token: str | None = None) -> None:
        """``tls``: serve HTTPS with this server context; ``token``: the bearer token every request must carry."""
        api = self
        expected = f"Bearer {token}".encode() if token else None
        in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)

        class Handler(BaseHTTPRequestHandler):
            timeout = REQUEST_TIMEOUT_S

            def do_GET(self) -> None:
                given = self.headers.get("Authorization", "").encode()
                if expected is not None and not hmac.compare_digest(given, expected):
                    status, body = 401, {"error": "a bearer token is required (Authorization: Bearer …)"}
                elif not in_flight.acquire(timeout=2):
                    status, body = 503, {"error": "the object services are busy; retry in a moment"}
                else:
                    try:
                        status, body = api.answer(self.path)
                    finally:
                        in_flight.release()
                data = orjson.dumps(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt: str, *args: Any) -> None:
                logger.debug("api: " + fmt, *args)

        self.service = service
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(target=self.server.serve_forever, name="pobi-api", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

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
        if route == "object" and arg:
            return 200, self.service.object(arg)
        if route == "timeline" and arg:
            return 200, self.service.timeline(arg, limit or 200)
        if route == "search" and text:
            return 200, self.service.search(text, min(limit or 20, 100))
        if route == "tracker" and arg:
            return 200, self.service.tracker(arg, limit or 500)
        return 404, {"error": "routes: /object/<id>, /timeline/<id>, /search?q=<text>, /tracker/<id>, /health"}
