"""The object-services API over real HTTP on loopback, with an in-memory service: the bearer token is
required when configured, and a server whose 16 request slots are taken answers 503 instead of piling up."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
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
