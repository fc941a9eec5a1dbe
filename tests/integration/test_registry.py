"""pobi's Schema Registry API on the real stack, read by Confluent's own Python client: subjects, versions,
ids kept in Kafka and stable across restarts, a proposal judged, and a record in Confluent's wire format
decoded by ``DeserializingConsumer`` + ``AvroDeserializer`` with no pobi code on the consumer's side."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from confluent_kafka import DeserializingConsumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from fastavro import parse_schema, schemaless_writer

from foundation.clock import CST
from foundation.kafka import client_config
from foundation.settings import Settings
from schemas.codec import Codec
from schemas.confluent import frame
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import SCHEMA_ROOT, SchemaRegistry, default_registry
from streams.fanout.stage import FanoutStage
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from tests.kafka_helpers import create_topics, read_all
from tests.readme import readme_function
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import create_stream_topics, namespaced, running_registry, running_stage, wait_for_group
from topics.contract import load_contract
from topics.producer import Publisher
from topics.subscriptions import CONTRACTS_DIR, apply_contracts

pytestmark = pytest.mark.stack


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


def _clean_people(settings: Settings, schemas: SchemaRegistry, tag: str, extra: dict[str, object]) -> None:
    """Five Fuzhou residents' clean events on ``norm.person``, written with ``schemas``' latest person."""
    from pobi.demo.traffic import valid_id_number

    codec, today, now = Codec(schemas), datetime.now(CST).date(), int(time.time() * 1000)
    schema = schemas.latest("person")
    with Publisher(settings) as publisher:
        for n in range(5):
            row = {**SAMPLE_ROWS["person"], "id_number": valid_id_number("350102", date(1980, 1, 1 + n), 2 * n + 1),
                   "birth_date": date(1980, 1, 1 + n).isoformat(), "division_code": "350102", **extra}
            event = {"event_id": f"{tag}-{n}", "dataset": "person", "op": "c", "ts_ms": now,
                     "source": {"department": "public-security", "system": "hukou", "position": str(n)},
                     "before": None, "after": row}
            clean = normalize_event(schema, event, RuleClock(today, now),
                                    {"topic": "t", "partition": 0, "offset": n, "ts_ms": now})
            publisher.produce(settings.topics.norm("person"), clean["entity"]["id"].encode(),
                              codec.encode_with(schemas.latest("person.clean"), clean))


def _fan_out(settings: Settings, schemas: SchemaRegistry) -> None:
    stage = FanoutStage(settings, datasets=["person"], codec=Codec(schemas))
    with running_stage(settings, ["person"], stage=stage):
        wait_for_group(settings, "pobi-fanout", [settings.topics.norm("person")])


def test_a_subscriber_s_own_client_reads_its_feed_as_pobi_subscribe_shows_it_across_a_v2(
        live_stack: object, unique: str, tmp_path: Path) -> None:
    settings = namespaced(unique, secrets_dir=tmp_path / "secrets")
    create_stream_topics(settings, ["person"], partitions=1)
    create_topics(settings, settings.topics.out("fuzhou-city"), settings.topics.audit_delivery, partitions=1)
    create_topics(settings, settings.topics.subscriptions, partitions=1)
    # v2 of person: a public field the department adds, which fuzhou-city's contract v2 then grants
    root = tmp_path / "avro"
    shutil.copytree(SCHEMA_ROOT, root)
    row = json.loads((root / "person" / "v1.avsc").read_text(encoding="utf-8"))
    row["fields"].append({"name": "ethnicity", "type": ["null", "string"], "default": None,
                          "pobi.sensitivity": "public", "doc": "民族"})
    (root / "person" / "v2.avsc").write_text(json.dumps(row, ensure_ascii=False), encoding="utf-8")
    v1, v2 = default_registry(), SchemaRegistry(root)
    text = (CONTRACTS_DIR / "fuzhou-city.yaml").read_text(encoding="utf-8")
    contract_v2 = tmp_path / "v2" / "fuzhou-city.yaml"
    contract_v2.parent.mkdir()
    contract_v2.write_text(text.replace("version: 1", "version: 2").replace(
        "address, phone]", "address, phone, ethnicity]"), encoding="utf-8")

    apply_contracts(settings, [load_contract(CONTRACTS_DIR / "fuzhou-city.yaml", v1, date(2026, 12, 1))], v1)
    _clean_people(settings, v1, "before", {})
    _fan_out(settings, v1)
    apply_contracts(settings, [load_contract(contract_v2, v2, date(2026, 12, 1))], v2)
    _clean_people(settings, v2, "after", {"ethnicity": "畲族"})
    _fan_out(settings, v2)

    topic, subject = settings.topics.out("fuzhou-city"), f"{settings.topics.out('fuzhou-city')}-value"
    with running_registry(settings, v2) as url:
        client = SchemaRegistryClient({"url": url})
        assert client.get_versions(subject) == [1, 2]
        read_feed = readme_function("read_feed")  # the README's consumer, exactly as a subscriber copies it
        theirs = read_feed(client_config(settings), {"url": url}, topic, settings.topics.named("fuzhou-city.own"), 10)
        env = {**os.environ, **settings.as_environment(), "POBI_REGISTRY_URL": url}
        shown = subprocess.run([sys.executable, "-c", "from pobi.cli import main; main()", "subscribe", "fuzhou-city",
                                "--from-beginning", "--max", "10", "--idle", "30", "--json"],
                               capture_output=True, text=True, env=env, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    ours = [json.loads(line) for line in shown.stdout.splitlines()]
    assert len(theirs) == 10 and json.loads(json.dumps(theirs, ensure_ascii=False)) == ours
    assert [r["contract_version"] for r in ours] == [1] * 5 + [2] * 5
    assert all("ethnicity" not in r["row"] for r in ours[:5]) and {r["row"]["ethnicity"] for r in ours[5:]} == {"畲族"}
    assert all(r["row"]["name"].endswith("*") and r["row"]["address"] is None for r in ours)  # masked as agreed
