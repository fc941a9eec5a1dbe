"""The console's own routes on the object-services API: its pages (shipped with pobi), the login, who is logged
in, and the operator's replays. Every state-changing request must carry ``X-Pobi-Channel: console``, a header
a page of another site cannot send here (the API allows no cross-origin requests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from foundation.errors import PobiError
from pobi.console.access import SESSION_COOKIE, SESSION_S, ConsoleUser, ConsoleUsers, Gate
from pobi.console.desk import ReplayDesk

__all__ = ["STATIC", "caller", "channel_of", "console_routes", "json_response"]

STATIC = Path(__file__).with_name("static")


def json_response(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json; charset=utf-8")


def channel_of(request: Request) -> str:
    """``console`` when the request says it comes from the console (a header no other site's page can send
    here), else ``api``."""
    return "console" if request.headers.get("x-pobi-channel") == "console" else "api"


def caller(gate: Gate, request: Request) -> ConsoleUser | None:
    return gate.identify(request.headers.get("authorization", ""), request.cookies.get(SESSION_COOKIE),
                         channel_of(request),
                         request.client.host if request.client else "unknown")


def console_routes(gate: Gate, users: ConsoleUsers | None, desk: ReplayDesk | None) -> list[BaseRoute]:
    async def login(request: Request) -> Response:
        if channel_of(request) != "console":
            return json_response(403, {"error": "log in from the console"})
        if users is None or gate.sessions is None:
            return json_response(404, {"error": "no login here: on the plaintext profile the console is open"})
        try:
            asked = orjson.loads(await request.body())
            name, password = str(asked["user"]), str(asked["password"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return json_response(400, {"error": 'expected {"user": …, "password": …}'})
        user = await run_in_threadpool(users.check, name, password)
        if user is None:
            return json_response(401, {"error": "unknown user or wrong password"})
        answer = json_response(200, {"user": user.name, "role": user.role})
        answer.set_cookie(SESSION_COOKIE, gate.sessions.issue(user), max_age=SESSION_S, httponly=True, secure=True,
                          samesite="strict")
        return answer

    async def logout(_request: Request) -> Response:
        answer = json_response(200, {})
        answer.delete_cookie(SESSION_COOKIE, httponly=True, secure=True, samesite="strict")
        return answer

    async def whoami(request: Request) -> Response:
        user = caller(gate, request)
        if user is None:
            return json_response(401, {"error": "log in"})
        return json_response(200, {"user": user.name, "role": user.role, "login": gate.secure})

    def desk_for(request: Request) -> ReplayDesk | Response:
        """The operator's desk, or the answer saying why ``request`` may not use it."""
        user = caller(gate, request)
        if user is None:
            return json_response(401, {"error": "log in"})
        if not user.operates:
            return json_response(403, {"error": "the operator's desk is for operators"})
        if desk is None:
            return json_response(404, {"error": "this API has no operator's desk"})
        return desk

    async def replay(request: Request) -> Response:
        if channel_of(request) != "console":
            return json_response(403, {"error": "replays come from the console (X-Pobi-Channel: console)"})
        allowed = desk_for(request)
        if isinstance(allowed, Response):
            return allowed
        try:
            asked = orjson.loads(await request.body())
            stage, reason = str(asked["stage"]), str(asked["reason"])
            dry_run = asked.get("dry_run", True) is not False
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return json_response(400, {"error": 'expected {"stage": …, "reason": …, "dry_run": true|false}'})
        try:
            return json_response(200, await run_in_threadpool(allowed.replay, stage, reason, dry_run=dry_run))
        except PobiError as exc:
            return json_response(400, {"error": str(exc)})

    async def lag(request: Request) -> Response:
        allowed = desk_for(request)
        if isinstance(allowed, Response):
            return allowed
        try:
            return json_response(200, await run_in_threadpool(allowed.lag))
        except PobiError as exc:
            return json_response(503, {"error": str(exc)})

    return [
        Route("/console", lambda _r: RedirectResponse("/console/", status_code=308), methods=["GET"]),
        Route("/lag", lag, methods=["GET"]),
        Route("/console/login", login, methods=["POST"]),
        Route("/console/logout", logout, methods=["POST"]),
        Route("/console/whoami", whoami, methods=["GET"]),
        Route("/dlq/replay", replay, methods=["POST"]),
        Mount("/console", app=StaticFiles(directory=STATIC, html=True)),
    ]
