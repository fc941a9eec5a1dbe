"""The object-services API over real HTTP on loopback, with an in-memory service: the bearer token is
required when configured, and a server whose 16 request slots are taken answers 503 instead of piling up."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pobi.api import MAX_IN_FLIGHT, ObjectApi


class SlowService:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.inside = threading.Semaphore(0)

    def object(self, text: str) -> Any:
        self.inside.release()
        self.release.wait(10)
        return {"entity_id": text}


def get(port: int, path: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def service() -> SlowService:
    service = SlowService()
    service.release.set()
    return service


def test_a_token_is_required_when_configured(service: SlowService) -> None:
    api = ObjectApi(service, "127.0.0.1", 0, token="t0ken")  # type: ignore[arg-type]
    api.start()
    try:
        assert get(api.port, "/object/x")[0] == 401
        assert get(api.port, "/object/x", token="wrong")[0] == 401
        assert get(api.port, "/object/x", token="t0ken") == (200, {"entity_id": "x"})
    finally:
        api.stop()


def test_a_full_server_answers_503_instead_of_piling_up() -> None:
    service = SlowService()
    api = ObjectApi(service, "127.0.0.1", 0)  # type: ignore[arg-type]
    api.start()
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(get(api.port, "/object/x")[0]))
               for _ in range(MAX_IN_FLIGHT)]
    try:
        for thread in threads:
            thread.start()
        for _ in range(MAX_IN_FLIGHT):
            assert service.inside.acquire(timeout=10), "the requests did not reach the service"
        status, body = get(api.port, "/object/y")  # every slot is taken
        assert status == 503 and "busy" in body["error"]
    finally:
        service.release.set()
        for thread in threads:
            thread.join(20)
        api.stop()
    assert answers == [200] * MAX_IN_FLIGHT


class FakeReadLog:
    def __init__(self) -> None:
        self.reads: list[tuple[Any, ...]] = []

    def record(self, reader: Any, entity_type: str, entity_id: str, view: str) -> None:
        self.reads.append((reader.name, reader.channel, entity_type, entity_id, view))


class KnownService:
    def object(self, text: str) -> Any:
        if text == "bad":
            from foundation.errors import PobiError

            raise PobiError("'bad' is not an ID number")
        return {"entity_type": "person", "entity_id": text}

    def search(self, text: str, limit: int) -> Any:
        return []


def test_each_answered_read_is_recorded_with_its_reader_and_the_console_is_served() -> None:
    log = FakeReadLog()
    api = ObjectApi(KnownService(), "127.0.0.1", 0, reads=log)  # type: ignore[arg-type]
    api.start()
    try:
        console = urllib.request.Request(f"http://127.0.0.1:{api.port}/object/p1",
                                         headers={"X-Pobi-Channel": "console"})
        with urllib.request.urlopen(console, timeout=20) as response:
            assert response.status == 200
        assert get(api.port, "/object/p2")[0] == 200
        assert get(api.port, "/object/bad")[0] == 400  # not answered: not a read
        assert get(api.port, "/search?q=陈".replace("陈", "%E9%99%88"))[0] == 200  # a search reads no entity
        with urllib.request.urlopen(f"http://127.0.0.1:{api.port}/console/", timeout=20) as page:
            assert b"console.js" in page.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{api.port}/console/console.js", timeout=20) as script:
            assert b"drawLifecycle" in script.read()
    finally:
        api.stop()
    assert log.reads == [("console@127.0.0.1", "console", "person", "p1", "object"),
                         ("api@127.0.0.1", "api", "person", "p2", "object")]


def _post(port: int, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read()), response.headers.get("set-cookie", "")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), ""


class PersonService(KnownService):
    def object(self, text: str) -> Any:
        return {"entity_type": "person", "entity_id": text, "deleted": False, "related": [],
                "attributes": {"name": {"value": "陈志明", "department": "d", "source_ts_ms": 1, "sources": ["d"],
                                        "others": [{"department": "e", "value": "陈志民", "source_ts_ms": 0}]},
                               "phone": {"value": "13905910001", "department": "d", "source_ts_ms": 1,
                                         "sources": ["d"], "others": []}},
                "derived": {"id_number.birth_date": "1990-03-07"}}


def test_with_a_token_console_users_log_in_and_a_viewer_sees_less(tmp_path: Path) -> None:
    from foundation.secrets import write_private
    from foundation.settings import Settings
    from pobi.console.access import ConsoleUsers, Sessions

    for role, user in (("viewer", "clerk"), ("operator", "oncall")):
        write_private(tmp_path / "console" / role / f"{user}.password", f"pw-{user}".encode())
    users = ConsoleUsers(Settings(secrets_dir=tmp_path))
    api = ObjectApi(PersonService(), "127.0.0.1", 0, token="t0ken", users=users,  # type: ignore[arg-type]
                    sessions=Sessions(b"k" * 32))
    api.start()
    console = {"X-Pobi-Channel": "console", "Content-Type": "application/json"}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api.port}/console/", timeout=20) as page:
            assert b"console.js" in page.read()  # the page holds no data: served to anyone
        assert get(api.port, "/object/p1")[0] == 401  # the data is not
        assert _post(api.port, "/console/login", {"user": "clerk", "password": "nope"}, console)[0] == 401
        assert _post(api.port, "/console/login", {"user": "clerk", "password": "pw-clerk"}, {})[0] == 403
        status, who, cookie = _post(api.port, "/console/login", {"user": "clerk", "password": "pw-clerk"}, console)
        assert status == 200 and who == {"user": "clerk", "role": "viewer"}
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
        session = {"Cookie": cookie.split(";")[0], **console}

        def as_user(path: str, headers: dict[str, str]) -> tuple[int, Any]:
            request = urllib.request.Request(f"http://127.0.0.1:{api.port}{path}", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=20) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        status, view = as_user("/object/p1", session)
        assert status == 200 and view["attributes"]["name"]["value"] == "陈**"
        assert view["attributes"]["phone"]["value"] == "139****0001"
        assert view["attributes"]["name"]["others"][0]["value"] == "陈**"
        assert view["derived"]["id_number.birth_date"] != "1990-03-07"
        assert as_user("/dead-letters?stage=normalize&reason=x", session)[0] == 403
        assert as_user("/views/dead_letters_by_reason", session)[0] == 403
        assert _post(api.port, "/dlq/replay", {"stage": "normalize", "reason": "x"}, session)[0] == 403
        forged = {**session, "Cookie": session["Cookie"][:-4] + "beef"}
        assert as_user("/object/p1", forged)[0] == 401
        _status, _who, operator = _post(api.port, "/console/login", {"user": "oncall", "password": "pw-oncall"},
                                        console)
        status, view = as_user("/object/p1", {"Cookie": operator.split(";")[0]})
        assert status == 200 and view["attributes"]["phone"]["value"] == "13905910001"  # in clear
        assert get(api.port, "/object/p1", token="t0ken")[1]["attributes"]["phone"]["value"] == "13905910001"
    finally:
        api.stop()
