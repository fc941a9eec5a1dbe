"""Webhook delivery against a real HTTP server started by the test: the receiver is down for a while and
nothing is lost; every batch is signed; a receiver that never comes back sends the batches to dlq.delivery
and the subscriber's state says so."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from foundation.clock import CST
from foundation.connect import redis_client
from foundation.secrets import hub_key
from schemas.codec import Codec
from schemas.registry import default_registry
from sinks.webhook.stage import WebhookStage, verify
from streams.fanout.deliver import subscriber_key
from streams.fanout.stage import FanoutStage
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from tests.kafka_helpers import create_topics, read_all
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import create_stream_topics, namespaced, running_stage, wait_for_group
from topics.producer import Publisher
from topics.subscriptions import apply_contracts, load_contracts

pytestmark = pytest.mark.stack
CONTRACT = """subscriber: {name}
version: 1
owner_department: 福州市生态环境局
purpose: alerts
legal_basis: 《大气污染防治法》
approver: 福建省大数据管理局
valid_until: 2030-01-01
delivery: webhook
webhook: {{url: "http://127.0.0.1:{port}/hook", batch_size: 50, max_attempts: {attempts}, timeout_s: 2}}
datasets:
  sensor_reading:
    fields: [sensor_id, metric, value, unit, measured_at]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict, str, bytes]]] = []
    stamps: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.headers["Content-Type"].startswith("application/cloudevents-batch+json")
        Receiver.received.append((json.loads(body), self.headers["X-Pobi-Signature"], body))
        Receiver.stamps.append(self.headers["X-Pobi-Timestamp"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def readings(n: int) -> list[dict]:
    clock = RuleClock(datetime.now(CST).date(), int(time.time() * 1000))
    now = datetime.now(CST).isoformat(timespec="seconds")
    out = []
    for i in range(n):
        event = {"event_id": f"r-{i}", "dataset": "sensor_reading", "op": "c", "ts_ms": 1,
                 "source": {"department": "env", "system": "aqms", "position": str(i)}, "before": None,
                 "after": {**SAMPLE_ROWS["sensor_reading"], "sensor_id": f"S-{i % 7}", "value": float(i % 90),
                           "measured_at": now}}
        out.append(normalize_event(default_registry().latest("sensor_reading"), event, clock,
                                   {"topic": "t", "partition": 0, "offset": i, "ts_ms": 1}))
    return out


def test_webhook_survives_a_receiver_outage_and_dead_letters_a_lost_one(live_stack: object, unique: str,
                                                                        tmp_path: Path) -> None:
    # the receivers run on this machine: the administrator allows loopback, which webhooks may not reach otherwise
    settings = namespaced(unique, secrets_dir=tmp_path / "secrets", webhook_allow="127.0.0.1/32")
    create_stream_topics(settings, ["sensor_reading"])
    create_topics(settings, settings.topics.out("env-hook"), settings.topics.out("env-gone"),
                  settings.topics.audit_delivery)
    create_topics(settings, settings.topics.subscriptions, partitions=1)
    port, dead_port = free_port(), free_port()
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "env-hook.yaml").write_text(CONTRACT.format(name="env-hook", port=port, attempts=12))
    (folder / "env-gone.yaml").write_text(CONTRACT.format(name="env-gone", port=dead_port, attempts=2))
    refused = load_contracts(folder, default_registry(), datetime.now(CST).date())[1]
    assert len(refused) == 2 and all("loopback" in problem for problem in refused)
    contracts, problems = load_contracts(folder, default_registry(), datetime.now(CST).date(),
                                         settings.webhook_networks)
    assert problems == []
    apply_contracts(settings, contracts, default_registry())
    events = readings(120)
    codec = Codec()
    with Publisher(settings) as publisher:
        for event in events:
            publisher.produce(settings.topics.norm("sensor_reading"), event["entity"]["id"].encode(),
                              codec.encode_with(codec.registry.latest("sensor_reading.clean"), event))

    Receiver.received, Receiver.stamps = [], []
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    server.server_close()  # the port is chosen but nobody listens yet: the receiver is down
    with running_stage(settings, ["sensor_reading"], stage=FanoutStage(settings, datasets=["sensor_reading"])), \
            running_stage(settings, [], stage=WebhookStage(settings)):
        time.sleep(4)
        assert Receiver.received == []
        server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            deadline = time.monotonic() + 90
            while {e["id"] for body, _sig, _raw in Receiver.received for e in body} != {
                    e["event_id"] for e in events}:
                assert time.monotonic() < deadline, "the webhook did not deliver every event"
                time.sleep(0.2)
            wait_for_group(settings, "pobi-webhook", [settings.topics.out("env-gone")], timeout_s=60)
        finally:
            server.shutdown()

    key = subscriber_key(hub_key(settings), "env-hook", "webhook").hex()
    for (body, signature, raw), stamp in zip(Receiver.received, Receiver.stamps, strict=True):
        assert verify(key, raw, stamp, signature, time.time())
        assert not verify(key, raw, stamp, signature, time.time() + 301)  # replayed later: refused
        assert not verify(key, raw + b" ", stamp, signature, time.time())
        assert signature == "sha256=" + hmac.new(key.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
        assert 1 <= len(body) <= 50  # a batch of CloudEvents, at most the contract's batch size
        for event in body:
            assert (event["specversion"], event["type"]) == ("1.0", "pobi.delivery.sensor_reading")
            assert event["id"] == event["data"]["event_id"] and event["subject"] == event["data"]["entity_key"]
            assert event["source"] == f"/pobi/feeds/{settings.topics.out('env-hook')}"
            assert event["dataschema"] == (f"{settings.registry_url}/subjects/{settings.topics.out('env-hook')}"
                                           "-value/versions/1")
            assert datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp() * 1000 == \
                event["data"]["ts_ms"]
    delivered = Counter(e["id"] for body, _s, _r in Receiver.received for e in body)
    print(f"\nwebhook: {sum(delivered.values())} deliveries for {len(delivered)} events "
          f"({sum(delivered.values()) - len(delivered)} repeated) in {len(Receiver.received)} batches")
    assert set(delivered) == {e["event_id"] for e in events}

    client = redis_client(settings)
    assert client.hget(settings.redis_key("delivery", "env-hook"), "state") == b"ok"
    assert client.hget(settings.redis_key("delivery", "env-gone"), "state") == b"failing"
    letters = [codec.decode(m.value())[1] for m in read_all(settings, settings.topics.dlq("delivery"))]
    assert len(letters) == 120 and {x["reason"] for x in letters} == {"webhook.failed"}
    assert all(x["source_topic"] == settings.topics.out("env-gone") for x in letters)


def test_a_webhook_aimed_at_the_hub_delivers_nothing_and_says_why(live_stack: object, unique: str,
                                                                  tmp_path: Path) -> None:
    """A contract whose URL names a host that resolves to the hub's own machine (here ClickHouse's HTTP port
    with an INSERT in the query) passes `validate` (a name is not an address) but not delivery."""
    settings = namespaced(unique, secrets_dir=tmp_path / "secrets")
    create_stream_topics(settings, ["sensor_reading"])
    create_topics(settings, settings.topics.out("env-ssrf"), settings.topics.audit_delivery)
    create_topics(settings, settings.topics.subscriptions, partitions=1)
    folder = tmp_path / "contracts"
    folder.mkdir()
    url = f"http://localhost:{settings.clickhouse_http_port}/?query=INSERT%20INTO%20pobi.x%20FORMAT%20JSONEachRow"
    (folder / "env-ssrf.yaml").write_text(CONTRACT.format(name="env-ssrf", port=1, attempts=3).replace(
        "http://127.0.0.1:1/hook", url))
    contracts, problems = load_contracts(folder, default_registry(), datetime.now(CST).date())
    assert problems == []
    apply_contracts(settings, contracts, default_registry())
    codec = Codec()
    with Publisher(settings) as publisher:
        for event in readings(10):
            publisher.produce(settings.topics.norm("sensor_reading"), event["entity"]["id"].encode(),
                              codec.encode_with(codec.registry.latest("sensor_reading.clean"), event))
    with running_stage(settings, ["sensor_reading"], stage=FanoutStage(settings, datasets=["sensor_reading"])), \
            running_stage(settings, [], stage=WebhookStage(settings)):
        wait_for_group(settings, "pobi-fanout", [settings.topics.norm("sensor_reading")], timeout_s=60)
        wait_for_group(settings, "pobi-webhook", [settings.topics.out("env-ssrf")], timeout_s=60)
    letters = [codec.decode(m.value())[1] for m in read_all(settings, settings.topics.dlq("delivery"))]
    assert len(letters) == 10 and {x["reason"] for x in letters} == {"webhook.refused_destination"}
    assert "loopback" in letters[0]["message"]
    state = redis_client(settings).hget(settings.redis_key("delivery", "env-ssrf"), "state")
    assert state == b"failing"
