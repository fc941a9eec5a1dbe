"""The object-services HTTP API under 16 concurrent clients on the real ClickHouse: every answer right, no
connection shared between threads; bad input answered 400 in pobi's words; a failing store 503 without the
server's text."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from pobi.api import ObjectApi
from pobi.demo.traffic import valid_id_number
from pobi.objects import object_service
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from sinks.clickhouse.stage import SinkStage
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import running_stage, wait_for_group, whole_hub
from topics.producer import Publisher

pytestmark = pytest.mark.stack
PEOPLE = 20


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{quote(path, safe='/?=&')}", timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_sixteen_clients_at_once(live_stack: object, unique: str, tmp_path: Path) -> None:
    settings, _writer = whole_hub(unique, tmp_path / "secrets", ["person"])
    ids = [valid_id_number("350102", date(1960, 1, 1) + timedelta(days=400 * n), 2 * n + 1) for n in range(PEOPLE)]
    with Publisher(settings) as publisher:
        for n, number in enumerate(ids):
            row = SAMPLE_ROWS["person"] | {"id_number": number, "name": f"陈{n}号", "birth_date": None}
            publisher.send_event("person", build_envelope(
                default_registry().latest("person"), event_id=f"p-{n}", op="c",
                source=SourceRef("public-security", "hukou"), position=str(n), ts_ms=int(time.time() * 1000),
                before=None, after=row), topic=settings.topics.ingest("person"))
    sink = SinkStage(settings, datasets=["person"])
    with running_stage(settings, ["person"]), running_stage(settings, ["person"], stage=sink):
        wait_for_group(settings, "pobi-normalize", [settings.topics.ingest("person")])
        wait_for_group(settings, "pobi-sink", sink.topics())

    api = ObjectApi(object_service(settings, connections=16), "127.0.0.1", 0)
    api.start()
    answers: Counter[str] = Counter()
    wrong: list[str] = []

    def client(k: int) -> None:
        for i in range(25):
            n = (k * 25 + i) % PEOPLE
            path = (f"/object/{ids[n]}", f"/timeline/{ids[n]}", f"/search?q=陈{n}号", "/object/350102199003071235",
                    f"/timeline/{ids[n]}?limit=-1")[i % 5]
            status, body = get(api.port, path)
            answers[str(status)] += 1
            if i % 5 == 0 and (status != 200 or body["attributes"]["name"]["value"] != f"陈{n}号"):
                wrong.append(f"{path}: {status} {body}")
            if i % 5 == 1 and (status != 200 or len(body["events"]) != 1):
                wrong.append(f"{path}: {status} {body}")
            if i % 5 == 2 and (status != 200 or body[0]["entity_id"] != ids[n]):
                wrong.append(f"{path}: {status} {body}")
            if i % 5 == 3 and (status != 400 or "check character should be 4" not in body["error"]):
                wrong.append(f"{path}: {status} {body}")
            if i % 5 == 4 and (status != 400 or body["error"] != "limit must be a whole number from 1 to 1000"):
                wrong.append(f"{path}: {status} {body}")

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        api.stop()
    assert wrong == []
    assert answers == {"200": 240, "400": 160}


def test_a_failing_store_answers_503_without_the_server_s_words(live_stack: object, settings: object) -> None:
    gone = object_service(settings.model_copy(update={"clickhouse_database": "no_such_database"}))  # type: ignore[attr-defined]
    api = ObjectApi(gone, "127.0.0.1", 0)
    api.start()
    try:
        status, body = get(api.port, "/object/350102199003071234")
        assert status == 503 and "DB::Exception" not in body["error"] and "no_such_database" not in body["error"]
        assert get(api.port, "/search?q=" + "陈" * 500)[0] == 400
        assert get(api.port, "/health") == (200, {"status": "ok"})
    finally:
        api.stop()
