"""pobi's Schema Registry API on the real stack, read by Confluent's own Python client: subjects, versions,
ids kept in Kafka and stable across restarts, a proposal judged, and a record in Confluent's wire format
decoded by ``DeserializingConsumer`` + ``AvroDeserializer`` with no pobi code on the consumer's side."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from confluent_kafka import DeserializingConsumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from fastavro import parse_schema, schemaless_writer

from foundation.asgi import BackgroundServer
from foundation.kafka import client_config
from foundation.settings import Settings
from pobi.registry.app import registry_app
from schemas.confluent import frame
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import SCHEMA_ROOT, default_registry
from tests.kafka_helpers import create_topics, read_all
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import namespaced

pytestmark = pytest.mark.stack


@contextmanager
def running_registry(settings: Settings) -> Iterator[str]:
    with BackgroundServer(registry_app(settings), "127.0.0.1", 0) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture
def hub(live_stack: object, unique: str) -> Settings:
    settings = namespaced(unique)
    create_topics(settings, settings.topics.schemas, partitions=1)
    return settings


def test_subjects_versions_and_ids_as_a_registry_answers_them(hub: Settings) -> None:
    ingest = f"{hub.topics.ingest('person')}-value"
    with running_registry(hub) as url, httpx.Client(base_url=url, timeout=30) as http:
        subjects = http.get("/subjects").json()
        assert ingest in subjects and f"{hub.topics.norm('person')}-value" in subjects
        assert f"{hub.topics.dlq('normalize')}-value" in subjects
        assert http.get(f"/subjects/{ingest}/versions").json() == [1]
        latest = http.get(f"/subjects/{ingest}/versions/latest")
        assert latest.headers["content-type"].startswith("application/vnd.schemaregistry.v1+json")
        described = latest.json()
        assert described["subject"] == ingest and described["version"] == 1
        assert json.loads(described["schema"])["name"] == "pobi.person.ChangeEvent"
        by_id = http.get(f"/schemas/ids/{described['id']}").json()
        assert by_id["schema"] == described["schema"]
        sink_letters = f"{hub.topics.dlq('sink')}-value"
        letter_id = http.get(f"/subjects/{sink_letters}/versions/1").json()["id"]
        letters = http.get(f"/schemas/ids/{letter_id}/versions").json()
        assert {v["subject"] for v in letters} == {f"{hub.topics.dlq(s)}-value" for s in
                                                   ("ingest", "normalize", "delivery", "sink")}
        assert http.get("/config").json() == {"compatibilityLevel": "FULL_TRANSITIVE"}
        missing = http.get("/subjects/nothing-value/versions")
        assert missing.status_code == 404 and missing.json()["error_code"] == 40401
        assert http.get(f"/subjects/{ingest}/versions/7").json()["error_code"] == 40402
        assert http.get("/schemas/ids/1").status_code in (200, 404)
        ids = {s: http.get(f"/subjects/{s}/versions/latest").json()["id"] for s in subjects}

    recorded = {m.key().decode(): json.loads(m.value())["id"] for m in read_all(hub, hub.topics.schemas)}
    assert set(ids.values()) == set(recorded.values())  # every id handed out was kept in Kafka first
    with running_registry(hub) as url, httpx.Client(base_url=url, timeout=30) as http:  # a restart
        assert {s: http.get(f"/subjects/{s}/versions/latest").json()["id"] for s in ids} == ids
    assert len(read_all(hub, hub.topics.schemas)) == len(recorded)  # nothing new to record


def test_a_proposal_is_judged_by_pobi_s_rule(hub: Settings) -> None:
    ingest = f"{hub.topics.ingest('enterprise')}-value"
    row = json.loads((SCHEMA_ROOT / "enterprise" / "v1.avsc").read_text(encoding="utf-8"))
    retyped = json.loads(json.dumps(row))
    next(f for f in retyped["fields"] if f["name"] == "registered_capital")["type"] = ["null", "boolean"]
    added = json.loads(json.dumps(row))
    added["fields"].append({"name": "staff", "type": ["null", "int"], "default": None,
                            "pobi.sensitivity": "public"})
    with running_registry(hub) as url, httpx.Client(base_url=url, timeout=30) as http:
        def ask(schema: object) -> httpx.Response:
            return http.post(f"/compatibility/subjects/{ingest}/versions/latest",
                             json={"schema": json.dumps(schema)})

        refused = ask(retyped).json()
        assert refused["is_compatible"] is False
        assert any("registered_capital" in m for m in refused["messages"])
        assert ask(added).json() == {"is_compatible": True, "messages": []}
        broken = http.post(f"/compatibility/subjects/{ingest}/versions/latest", json={"schema": "{not json"})
        assert broken.status_code == 422 and broken.json()["error_code"] == 42201
        assert http.post(f"/subjects/{ingest}/versions", json={"schema": json.dumps(row)}).status_code == 405


def test_confluent_s_own_client_decodes_a_record_by_its_id(hub: Settings) -> None:
    ingest = hub.topics.ingest("person")
    create_topics(hub, ingest)
    schema = default_registry().latest("person")
    envelope = build_envelope(schema, event_id="e-1", op="c", source=SourceRef("public-security", "hukou"),
                              position="1", ts_ms=int(time.time() * 1000), before=None, after=SAMPLE_ROWS["person"]
                              | {"birth_date": None})
    with running_registry(hub) as url:
        client = SchemaRegistryClient({"url": url})
        registered = client.get_latest_version(f"{ingest}-value")
        assert client.get_schema(registered.schema_id).schema_str == registered.schema.schema_str
        body = io.BytesIO()
        schemaless_writer(body, parse_schema(json.loads(registered.schema.schema_str)), envelope)
        producer = Producer(client_config(hub))
        producer.produce(ingest, value=frame(registered.schema_id, body.getvalue()), key=b"k")
        assert producer.flush(30) == 0

        consumer = DeserializingConsumer({**client_config(hub), "group.id": f"{hub.namespace}-confluent",
                                          "auto.offset.reset": "earliest",
                                          "value.deserializer": AvroDeserializer(client)})
        consumer.subscribe([ingest])
        try:
            deadline = time.monotonic() + 30
            message = None
            while message is None and time.monotonic() < deadline:
                message = consumer.poll(1)
        finally:
            consumer.close()
    assert message is not None and message.value()["event_id"] == "e-1"
    assert message.value()["after"]["name"] == SAMPLE_ROWS["person"]["name"]
