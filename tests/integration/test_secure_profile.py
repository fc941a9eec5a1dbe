"""The secure profile on a real secure stack: every party is its own Kafka user, the broker refuses what no
ACL allows, TLS is the only way in, revoking a contract removes the read right, and no password shows up in
a log, in what the CLI prints, or in the repository."""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import redis
from clickhouse_driver import Client
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

from foundation.clock import CST
from foundation.connect import clickhouse_client, redis_client
from foundation.errors import PobiError
from foundation.kafka import client_config, require_kafka
from foundation.settings import Settings
from pobi.stack.service import port_is_open
from pobi.stack.tls import ensure_certificates
from schemas.registry import default_registry
from sinks.clickhouse.writer import ClickHouseWriter
from tests.kafka_helpers import create_topics
from tests.samples import SAMPLE_ROWS
from tests.secure_helpers import as_party, settings_env
from tests.stream_helpers import create_stream_topics, namespaced
from topics.access import GATEWAY_USER, REGISTRY_USER
from topics.admin import record_counts
from topics.subscriptions import CONTRACTS_DIR, apply_contracts, load_contracts

pytestmark = pytest.mark.stack
CLI = [sys.executable, "-c", "from pobi.cli import main; main()"]
SUBSCRIBERS = ["fuzhou-city", "credit-system"]
API_PORT = 19565
GATEWAY_PORT = 19566
REGISTRY_PORT = 19567
REGISTRY = {"POBI_REGISTRY_URL": f"https://127.0.0.1:{REGISTRY_PORT}"}  # this namespace's registry
OUTPUTS: list[str] = []  # everything the CLI printed in this module, for the secret check at the end


def run_cli(settings: Settings, *args: str, user: str | None = None, timeout: float = 120,
            extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings_env(as_party(settings, user) if user else settings), **(extra or {})}
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    OUTPUTS.extend([done.stdout, done.stderr])
    return done


def contracts(*names: str) -> list:
    found, _ = load_contracts(CONTRACTS_DIR, default_registry(), datetime.now(CST).date())
    return [c for c in found if c.subscriber in names]


@pytest.fixture(scope="module")
def hub(secure_stack: Settings) -> Settings:
    """A namespace on the secure stack with person and enterprise flowing to two subscribers."""
    unique = uuid.uuid4().hex[:10]
    settings = namespaced(unique, secure_stack, clickhouse_database=f"t{unique}")
    create_stream_topics(settings, ["person", "enterprise"])
    create_topics(settings, *(settings.topics.out(s) for s in SUBSCRIBERS), settings.topics.audit_delivery)
    create_topics(settings, settings.topics.subscriptions, partitions=1)
    apply_contracts(settings, contracts(*SUBSCRIBERS), default_registry())
    return settings


def refusal(settings: Settings, topic: str, group: str) -> KafkaError | None:
    """What the broker answers ``settings``' user reading ``topic`` as ``group``: None if it may."""
    consumer = Consumer(client_config(settings, **{"group.id": group, "enable.auto.commit": False,
                                                   "auto.offset.reset": "earliest"}))
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() and message.error().code() != KafkaError._PARTITION_EOF:
                return message.error()
            if consumer.assignment():
                return None
        raise AssertionError(f"neither assigned nor refused on {topic}")
    finally:
        consumer.close()


def test_access_apply_creates_users_and_acls_once(hub: Settings) -> None:
    first = run_cli(hub, "access", "apply")
    assert first.returncode == 0, first.stderr
    assert f"+ allow User:sub-fuzhou-city READ topic {hub.topics.named('out.fuzhou-city')}" in first.stdout
    assert f"+ allow User:dept-public-security WRITE topic {hub.topics.named('ingest.person')}" in first.stdout
    files = {user: hub.password_path("kafka", user) for user in ("sub-fuzhou-city", "dept-public-security",
                                                                 "pobi-worker")}
    before = {user: path.read_text() for user, path in files.items()}
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in files.values())
    again = run_cli(hub, "access", "apply")
    assert again.returncode == 0 and again.stdout.strip().endswith("0 user(s) created, 0 ACL(s) added, 0 removed")
    assert {user: path.read_text() for user, path in files.items()} == before  # written once


def test_a_department_publishes_only_the_datasets_it_owns(hub: Settings, tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(SAMPLE_ROWS["person"], ensure_ascii=False) + "\n")
    own = run_cli(hub, "publish", str(rows), "-d", "person", "--source-dept", "public-security",
                  "--system", "hukou", user="dept-public-security")
    assert own.returncode == 0, own.stderr
    rows.write_text(json.dumps(SAMPLE_ROWS["enterprise"], ensure_ascii=False) + "\n")
    other = run_cli(hub, "publish", str(rows), "-d", "enterprise", "--source-dept", "public-security",
                    "--system", "hukou", user="dept-public-security")
    assert other.returncode != 0
    assert "Topic authorization failed" in other.stderr and len(other.stderr.strip().splitlines()) == 1
    assert record_counts(hub, [hub.topics.ingest("enterprise")])[hub.topics.ingest("enterprise")] == 0


def test_the_gateway_takes_the_department_from_its_token_and_only_for_its_datasets(hub: Settings,
                                                                                    tmp_path: Path) -> None:
    assert run_cli(hub, "access", "apply").returncode == 0  # makes each owning department's gateway token
    token = hub.password_path("gateway", "public-security").read_text().strip()
    assert hub.password_path("gateway", "public-security").stat().st_mode & 0o777 == 0o600
    log = (tmp_path / "gateway.log").open("w")
    env = {**os.environ, **settings_env(as_party(hub, GATEWAY_USER)), "POBI_GATEWAY_PORT": str(GATEWAY_PORT)}
    process = subprocess.Popen([*CLI, "gateway"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not port_is_open("127.0.0.1", GATEWAY_PORT):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.3)
        person = json.dumps([SAMPLE_ROWS["person"]], ensure_ascii=False).encode()
        enterprise = json.dumps([SAMPLE_ROWS["enterprise"]], ensure_ascii=False).encode()
        with pytest.raises(httpx.TransportError):  # plain HTTP to the TLS socket
            httpx.post(f"http://127.0.0.1:{GATEWAY_PORT}/v1/datasets/person/events", content=person, timeout=5)
        https = ssl.create_default_context(cafile=str(hub.ca_path))
        with httpx.Client(base_url=f"https://127.0.0.1:{GATEWAY_PORT}", verify=https, timeout=30) as client:
            bearer = {"Authorization": f"Bearer {token}"}
            own = client.post("/v1/datasets/person/events", content=person, headers=bearer)
            assert own.status_code == 200 and own.json()["accepted"] == 1, own.text
            # the token speaks for the caller: a header naming the owner of enterprise changes nothing
            other = client.post("/v1/datasets/enterprise/events", content=enterprise,
                                headers=bearer | {"X-Pobi-Department": "market-regulation"})
            assert other.status_code == 403
            named = client.post("/v1/datasets/person/events", content=person,
                                headers={"X-Pobi-Department": "public-security"})
            assert named.status_code == 401
            wrong = client.post("/v1/datasets/person/events", content=person,
                                headers={"Authorization": f"Bearer {token[:-2]}xx"})
            assert wrong.status_code == 401
        assert record_counts(hub, [hub.topics.ingest("enterprise")])[hub.topics.ingest("enterprise")] == 0
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
        log.close()
        OUTPUTS.append((tmp_path / "gateway.log").read_text())


@pytest.fixture(scope="module")
def worker(hub: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen]:
    """`pobi worker` (Faust app, its stages and the object-services API) as the worker's own user."""
    tmp_path = tmp_path_factory.mktemp("worker")
    log = (tmp_path / "worker.log").open("w")
    env = {**os.environ, **settings_env(as_party(hub, "pobi-worker")), "POBI_METRICS_PORT": "19564",
           "POBI_API_PORT": str(API_PORT)}
    process = subprocess.Popen([*CLI, "worker", "--stage", "normalize", "--stage", "fanout", "--processes", "1",
                                "--dataset", "person", "--dataset", "enterprise"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    yield process
    process.send_signal(signal.SIGINT)
    process.wait(60)
    log.close()
    OUTPUTS.append((tmp_path / "worker.log").read_text())


@pytest.fixture(scope="module")
def registry(hub: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`pobi registry` for this namespace as its own Kafka user, over HTTPS; its URL."""
    assert run_cli(hub, "access", "apply").returncode == 0  # the registry's user and ACLs
    log_path = tmp_path_factory.mktemp("registry") / "registry.log"
    log = log_path.open("w")
    env = {**os.environ, **settings_env(as_party(hub, REGISTRY_USER)), "POBI_REGISTRY_PORT": str(REGISTRY_PORT)}
    process = subprocess.Popen([*CLI, "registry"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not port_is_open("127.0.0.1", REGISTRY_PORT):
        assert time.monotonic() < deadline and process.poll() is None, log_path.read_text()
        time.sleep(0.3)
    yield REGISTRY["POBI_REGISTRY_URL"]
    process.send_signal(signal.SIGINT)
    process.wait(30)
    log.close()
    OUTPUTS.append(log_path.read_text())


def test_the_registry_shows_each_reader_only_its_own_subjects(hub: Settings, registry: str) -> None:
    def basic(user: str) -> tuple[str, str]:
        return user, hub.password_path("kafka", user).read_text().strip()

    fuzhou_feed, credit_feed = (f"{hub.topics.out(s)}-value" for s in ("fuzhou-city", "credit-system"))
    https = ssl.create_default_context(cafile=str(hub.ca_path))
    with httpx.Client(base_url=registry, verify=https, timeout=30) as client:
        anonymous = client.get("/subjects")
        assert anonymous.status_code == 401 and anonymous.json()["error_code"] == 401
        assert client.get("/subjects", auth=("sub-fuzhou-city", "wrong")).status_code == 401
        fuzhou = basic("sub-fuzhou-city")
        assert client.get("/subjects", auth=fuzhou).json() == [fuzhou_feed]
        other = client.get(f"/subjects/{credit_feed}/versions/latest", auth=fuzhou)
        assert other.status_code == 404 and other.json()["error_code"] == 40401
        credit_id = client.get(f"/subjects/{credit_feed}/versions/latest", auth=basic("admin")).json()["id"]
        assert client.get(f"/schemas/ids/{credit_id}", auth=fuzhou).status_code == 404  # not by its id either
        police = client.get("/subjects", auth=basic("dept-public-security")).json()
        assert police == [f"{hub.topics.ingest('person')}-value"]
        assert {fuzhou_feed, credit_feed} <= set(client.get("/subjects", auth=basic("admin")).json())
    # Confluent's own client, configured as a subscriber configures it
    client = SchemaRegistryClient({"url": registry, "basic.auth.user.info": ":".join(fuzhou),
                                   "ssl.ca.location": str(hub.ca_path)})
    assert client.get_latest_version(fuzhou_feed).schema_id > 0
    # and the contracts, every subscriber's terms, are no longer theirs to read
    refused = refusal(as_party(hub, "sub-fuzhou-city"), hub.topics.subscriptions,
                      hub.topics.named("fuzhou-city.contracts"))
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_subscriber_reads_its_own_feed_and_is_refused_anothers(hub: Settings, worker: subprocess.Popen,
                                                                 registry: str) -> None:
    fuzhou = as_party(hub, "sub-fuzhou-city")
    shown = run_cli(hub, "subscribe", "fuzhou-city", "--from-beginning", "--max", "1", "--idle", "60", "--json",
                    user="sub-fuzhou-city", timeout=180, extra=REGISTRY)
    assert worker.poll() is None, "the worker stopped"
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout.splitlines()[0])["dataset"] == "person"
    refused = run_cli(hub, "subscribe", "credit-system", "--from-beginning", "--idle", "5",
                      user="sub-fuzhou-city", extra=REGISTRY)
    assert refused.returncode == 1 and "may not see it" in refused.stderr
    # the broker itself refuses, whatever the client: another's feed, and a group outside its own prefix
    other = refusal(fuzhou, hub.topics.out("credit-system"), hub.topics.named("fuzhou-city.reader"))
    assert other is not None and other.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    group = refusal(fuzhou, hub.topics.out("fuzhou-city"), hub.topics.named("credit-system.reader"))
    assert group is not None and group.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    assert refusal(fuzhou, hub.topics.out("fuzhou-city"), hub.topics.named("fuzhou-city.reader")) is None


def test_the_object_api_answers_only_https_with_the_token(hub: Settings, worker: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not port_is_open("127.0.0.1", API_PORT):
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.3)
    with pytest.raises((OSError, http.client.HTTPException)):  # plain HTTP to the TLS socket
        urllib.request.urlopen(f"http://127.0.0.1:{API_PORT}/health", timeout=5)
    https = ssl.create_default_context(cafile=str(hub.ca_path))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"https://127.0.0.1:{API_PORT}/health", timeout=5, context=https)
    assert refused.value.code == 401
    token = hub.password_path("api", "token").read_text().strip()
    request = urllib.request.Request(f"https://127.0.0.1:{API_PORT}/health",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5, context=https) as answer:
        assert json.loads(answer.read()) == {"status": "ok"}


def test_revoking_a_contract_and_applying_access_removes_the_read_right(hub: Settings) -> None:
    fuzhou = as_party(hub, "sub-fuzhou-city")
    assert refusal(fuzhou, hub.topics.out("fuzhou-city"), hub.topics.named("fuzhou-city.reader")) is None
    apply_contracts(hub, contracts("credit-system"), default_registry())  # fuzhou-city withdrawn
    applied = run_cli(hub, "access", "apply")
    assert applied.returncode == 0, applied.stderr
    assert f"- allow User:sub-fuzhou-city READ topic {hub.topics.named('out.fuzhou-city')}" in applied.stdout
    assert "sub-credit-system" not in applied.stdout  # the other subscriber keeps its rights
    after = refusal(fuzhou, hub.topics.out("fuzhou-city"), hub.topics.named("fuzhou-city.reader2"))
    # its group rights went with its read right; whichever the broker checks first refuses
    assert after is not None and after.code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED,
                                                  KafkaError.GROUP_AUTHORIZATION_FAILED)
    metadata = AdminClient(client_config(fuzhou)).list_topics(hub.topics.out("fuzhou-city"), timeout=10)
    assert metadata.topics[hub.topics.out("fuzhou-city")].error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_plaintext_wrong_ca_and_wrong_password_are_refused(hub: Settings, tmp_path: Path) -> None:
    with pytest.raises(KafkaException):  # plaintext to the TLS listener
        AdminClient({"bootstrap.servers": hub.kafka_bootstrap, "socket.timeout.ms": 3000}).list_topics(timeout=5)
    with pytest.raises((redis.ConnectionError, OSError)):
        redis.Redis(host=hub.redis_host, port=hub.redis_port, socket_timeout=3).ping()
    with pytest.raises(Exception, match=r"210|reset|closed|EOF"):
        Client(host=hub.clickhouse_host, port=hub.clickhouse_port, connect_timeout=3).execute("SELECT 1")

    other_ca = ensure_certificates(hub, tmp_path / "other-ca").ca_cert
    stranger = hub.model_copy(update={"tls_ca_file": other_ca})
    with pytest.raises(PobiError):
        require_kafka(stranger)
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        redis_client(stranger, socket_timeout=3).ping()
    with pytest.raises(PobiError, match="not signed by the CA"):
        ClickHouseWriter(stranger, wait=False).execute("SELECT 1")

    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password")
    wrong.chmod(0o600)
    with pytest.raises(PobiError):
        require_kafka(hub.model_copy(update={"kafka_password_file": wrong}))
    require_kafka(hub)  # the right ones still work


def test_the_query_user_and_the_redis_user_cannot_do_more_than_their_part(hub: Settings) -> None:
    with pytest.raises(PobiError, match="readonly"):
        ClickHouseWriter(hub, wait=False, query=True).execute(f"CREATE DATABASE {hub.clickhouse_database}_x")
    assert clickhouse_client(hub, query=True).execute("SELECT 1") == [(1,)]
    client = redis_client(hub)
    assert client.set(hub.redis_key("probe"), "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("someone-elses:key", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.config_get("requirepass")


def test_no_password_in_logs_cli_output_or_the_repository(hub: Settings) -> None:
    """Run last in this module: it reads what the tests above printed and what the services logged."""
    passwords = {p.read_text().strip() for p in hub.secrets_path.rglob("*.password")}
    assert len(passwords) >= 5 and all(len(p) >= 20 for p in passwords)
    logs = [p for p in hub.stack_path.rglob("*") if p.is_file() and (p.suffix == ".log" or p.name == "service.log"
                                                                    or ".log." in p.name)]
    assert any(p.name == "server.log" and "kafka" in p.parts for p in logs)
    repo = Path(__file__).resolve().parents[2]
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
    texts = {f"output {n}": out for n, out in enumerate(OUTPUTS)}
    texts |= {str(p): p.read_text(errors="replace") for p in logs}
    texts |= {str(name): (repo / name.decode()).read_text(errors="replace")
              for name in tracked.split(b"\0") if name and (repo / name.decode()).is_file()}
    for config in (hub.stack_path / "secure.env", hub.stack_path / "kafka" / "server.properties",
                   hub.stack_path / "redis" / "users.acl", hub.stack_path / "clickhouse" / "secure-users.xml"):
        texts[str(config)] = config.read_text()  # configs name password files or hold hashes, never a password
    assert len(OUTPUTS) >= 10
    leaks = [(where, "…" + secret[-4:]) for where, text in texts.items() for secret in passwords if secret in text]
    assert leaks == []
