"""The object services as a small JSON HTTP API, served by the worker on 127.0.0.1:``POBI_API_PORT``:

    GET /object/<id>            the 360° view (person, enterprise or licence; any accepted spelling)
    GET /timeline/<id>?limit=N  every event about the entity, oldest first
    GET /search?q=<text>&limit=N
    GET /tracker/<id>?limit=N   who received the entity's data, when, which fields, under which contract
    GET /health

Answers are JSON; an id that fails its check is a 400 with ``{"error": "<why>"}``, an unknown entity a 404.
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

from pobi.errors import PobiError
from pobi.objects import ObjectService

__all__ = ["ObjectApi"]

logger = logging.getLogger(__name__)


class ObjectApi:
    def __init__(self, service: ObjectService, host: str, port: int, *, tls: ssl.SSLContext | None = None,
                 token: str | None = None) -> None:
        """``tls``: serve HTTPS with this server context; ``token``: the bearer token every request must carry."""
        api = self
        expected = f"Bearer {token}".encode() if token else None

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                given = self.headers.get("Authorization", "").encode()
                if expected is not None and not hmac.compare_digest(given, expected):
                    status, body = 401, {"error": "a bearer token is required (Authorization: Bearer …)"}
                else:
                    status, body = api.answer(self.path)
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
        parts = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        route, _, arg = parts.path.strip("/").partition("/")
        arg = unquote(arg)
        try:
            limit = int(query.get("limit", 0)) or None
            if route == "health":
                return 200, {"status": "ok"}
            if route == "object" and arg:
                return 200, self.service.object(arg)
            if route == "timeline" and arg:
                return 200, self.service.timeline(arg, limit or 200)
            if route == "search" and query.get("q"):
                return 200, self.service.search(query["q"], limit or 20)
            if route == "tracker" and arg:
                return 200, self.service.tracker(arg, limit or 500)
        except ValueError:
            return 400, {"error": "limit must be a whole number"}
        except PobiError as exc:
            return (404 if "has passed through" in str(exc) else 400), {"error": str(exc)}
        return 404, {"error": "routes: /object/<id>, /timeline/<id>, /search?q=<text>, /tracker/<id>, /health"}
