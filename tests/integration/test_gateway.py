"""The HTTP ingest gateway on the real stack: per-record answers after Kafka's acknowledgement, duplicates,
limits, and a Kafka outage that loses nothing and acknowledges nothing it did not keep."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

import httpx
import orjson
import pytest

from foundation.settings import Settings
from pobi.demo.traffic import valid_id_number
from pobi.stack.kafka import KafkaService
from schemas.codec import Codec
from tests.gateway_helpers import running_gateway
from tests.kafka_helpers import read_all
from tests.samples import SAMPLE_ROWS, rows
from tests.stream_helpers import create_stream_topics, namespaced, running_stage, wait_until_idle

pytestmark = pytest.mark.stack
DEPARTMENT = {"X-Pobi-Department": "public-security", "X-Pobi-System": "hukou"}


def event_ids(settings: Settings, topic: str) -> list[str]:
    codec = Codec()
    return [codec.decode(m.value())[1]["event_id"] for m in read_all(settings, topic)]


def test_a_mixed_batch_is_answered_record_by_record(live_stack: object, unique: str) -> None:
    settings = namespaced(unique, gateway_max_body_mb=2, gateway_max_records=50)
    create_stream_topics(settings, ["person"])
    valid = rows("person", 3)
    batch = [valid[0], {"name": "无证号"}, valid[1], 42, valid[0],
             {"op": "c", "event_id": "gw-explicit-1", "after": valid[2] | {"民族": "汉"}},
             SAMPLE_ROWS["person"] | {"address": "福" * 350_000}]  # one record over Kafka's limit
    with running_gateway(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        first = client.post("/v1/datasets/person/events", content=orjson.dumps(batch), headers=DEPARTMENT)
        assert first.status_code == 200, first.text
        answer = first.json()
        assert answer["accepted"] == 3
        assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [
            (1, "row.missing_key"), (3, "row.not_object"), (6, "record.too_large")]
        assert [d["index"] for d in answer["duplicates"]] == [4]
        assert answer["flags"] == {"row.extra_ignored": 1}

        ingest = event_ids(settings, settings.topics.ingest("person"))
        assert len(ingest) == 3 and "gw-explicit-1" in ingest
        letters = [Codec().decode(m.value())[1] for m in read_all(settings, settings.topics.dlq("ingest"))]
        assert sorted(x["reason"] for x in letters) == ["record.too_large", "row.missing_key", "row.not_object"]
        assert {x["context"]["department"] for x in letters} == {"public-security"}

        again = client.post("/v1/datasets/person/events", content=orjson.dumps(batch), headers=DEPARTMENT).json()
        assert again["accepted"] == 0 and sorted(d["index"] for d in again["duplicates"]) == [0, 2, 4, 5]
        assert len(event_ids(settings, settings.topics.ingest("person"))) == 3  # nothing sent twice
        # the same id with other content is no duplicate: it goes on, and the normaliser judges the conflict
        reused = [{"op": "u", "event_id": "gw-explicit-1", "after": valid[1]}]
        conflict = client.post("/v1/datasets/person/events", content=orjson.dumps(reused), headers=DEPARTMENT)
        assert conflict.json()["accepted"] == 1 and conflict.json()["duplicates"] == []

        lines = b"\n".join(orjson.dumps(r) for r in rows("person", 5)[3:]) + b"\nnot json\n"
        jsonl = client.post("/v1/datasets/person/events", content=lines, headers=DEPARTMENT).json()
        assert jsonl["accepted"] == 2 and [r["reason"] for r in jsonl["rejected"]] == ["json.malformed"]

        assert client.post("/v1/datasets/people/events", content=b"[]", headers=DEPARTMENT).status_code == 404
        nameless = client.post("/v1/datasets/person/events", content=b"[]")
        assert nameless.status_code == 400 and "X-Pobi-Department" in nameless.json()["error"]
        huge = client.post("/v1/datasets/person/events", content=b"[" + b" " * (3 * 1024 * 1024) + b"]",
                           headers=DEPARTMENT)
        assert huge.status_code == 413
        many = client.post("/v1/datasets/person/events", content=b"1\n" * 51, headers=DEPARTMENT)
        assert many.status_code == 413 and "at most 50 records" in many.json()["error"]
        odd_key = client.post("/v1/datasets/person/events", content=b"[]",
                              headers=DEPARTMENT | {"Idempotency-Key": "a key with spaces"})
        assert odd_key.status_code == 400 and "idempotency-key" in odd_key.json()["error"].lower()
        assert client.get("/readyz").status_code == 200
        paths = client.get("/v1/openapi.json").json()["paths"]
        assert "/v1/datasets/{dataset}/events" in paths
        served = [line for line in client.get("/metrics").text.splitlines()
                  if line.startswith("pobi_gateway_requests_total{")]
        assert any('dataset="person"' in line and 'status="200"' in line and f'namespace="{settings.namespace}"'
                   in line for line in served), served
        assert not any('dataset="people"' in line for line in served)  # no series for a made-up name
        assert any('dataset="unknown"' in line and 'status="404"' in line for line in served), served


def test_a_kafka_outage_acknowledges_nothing_and_a_retrying_client_loses_nothing(
        live_stack: object, unique: str, tmp_path: Path) -> None:
    # a Kafka of this test's own, so that stopping it disturbs no other test; Redis is the shared one
    settings = namespaced(unique, kafka_bootstrap="127.0.0.1:19492", kafka_controller_port=19493,
                          stack_dir=tmp_path / "stack", gateway_delivery_timeout_s=4)
    kafka = KafkaService(settings)
    kafka.start()
    try:
        create_stream_topics(settings, ["person"])
        people = [SAMPLE_ROWS["person"] | {"id_number": valid_id_number("350102", date(1980, 1, 1), n)}
                  for n in range(200)]  # rows that pass normalisation, so that all of them reach norm.*
        with running_gateway(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
            before = client.post("/v1/datasets/person/events", content=orjson.dumps(people[:100]),
                                 headers=DEPARTMENT)
            assert before.status_code == 200 and before.json()["accepted"] == 100

            kafka.stop()
            refusals, restarted, answers = 0, None, []
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                reply = client.post("/v1/datasets/person/events", content=orjson.dumps(people[100:]),
                                    headers=DEPARTMENT)
                answers.append(reply.json())
                if reply.status_code == 200:
                    break
                assert reply.status_code == 503 and reply.headers["Retry-After"].isdigit()
                assert reply.json().get("accepted", 0) == 0  # nothing acknowledged while Kafka is away
                refusals += 1
                if restarted is None:
                    assert client.get("/readyz").status_code == 503
                    restarted = threading.Thread(target=kafka.start)  # back while the client keeps trying
                    restarted.start()
                time.sleep(1)
            assert restarted is not None and refusals >= 1
            restarted.join(60)
            last = answers[-1]
            assert last["accepted"] + len(last["duplicates"]) == 100 and not last["rejected"]

        with running_stage(settings, ["person"]):
            wait_until_idle(settings, ["person"])
        norm = Counter(event_ids(settings, settings.topics.norm("person")))
        ingest = set(event_ids(settings, settings.topics.ingest("person")))
        assert len(ingest) == 200  # every row of both requests, by its id
        assert set(norm) == ingest and max(norm.values()) == 1  # exactly once past dedup
    finally:
        kafka.stop()
