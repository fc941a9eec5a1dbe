"""`pobi doctor` on the real stack: OK on a healthy deployment; with Redis, ClickHouse or Kafka out of reach it
names the broken part in its line and exits 3, and what depends on Kafka is reported as not checked rather
than waited on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from foundation.clock import CST
from foundation.settings import Settings
from pobi.doctor import run_checks
from schemas.registry import default_registry
from sinks.clickhouse.migrate import apply_migrations
from sinks.clickhouse.writer import ClickHouseWriter
from tests.stream_helpers import namespaced
from topics.admin import admin_client, apply_catalogue
from topics.subscriptions import CONTRACTS_DIR, apply_contracts, deployment_catalogue, load_contracts

pytestmark = pytest.mark.stack


def _doctor(settings: Settings, **env: str) -> tuple[int, list[dict]]:
    variables = {**os.environ, "POBI_NAMESPACE": settings.namespace,
                 "POBI_CLICKHOUSE_DATABASE": settings.clickhouse_database,
                 "POBI_SECRETS_DIR": str(settings.secrets_path), **env}
    done = subprocess.run([str(Path(sys.executable).with_name("pobi")), "doctor", "--json"], env=variables,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, json.loads(done.stdout)


def test_doctor_is_ok_on_a_healthy_deployment_and_names_what_is_down(live_stack: object, unique: str,
                                                                      tmp_path: Path) -> None:
    settings = namespaced(unique, clickhouse_database=f"t{unique}", secrets_dir=tmp_path / "secrets")
    apply_catalogue(admin_client(settings), deployment_catalogue(settings))  # as `pobi topics apply`
    writer = ClickHouseWriter(settings, wait=False)
    apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)  # as `pobi views migrate`
    found, _ = load_contracts(CONTRACTS_DIR, default_registry(), datetime.now(CST).date())
    apply_contracts(settings, found, default_registry())  # as `pobi subscriptions apply` (makes the hub key)
    checks = run_checks(settings)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert {c.name for c in checks} == {"kafka", "topics", "clickhouse", "redis", "hub key", "contracts", "sources",
                                        "ports"}

    code, healthy = _doctor(settings)
    assert code == 0 and all(c["ok"] for c in healthy)
    for variable, broken, words in (("POBI_REDIS_PORT", "redis", "Redis"),
                                    ("POBI_CLICKHOUSE_PORT", "clickhouse", "ClickHouse"),
                                    ("POBI_KAFKA_BOOTSTRAP", "kafka", "Kafka")):
        value = "127.0.0.1:1" if variable == "POBI_KAFKA_BOOTSTRAP" else "1"
        code, found = _doctor(settings, **{variable: value})
        failed = {c["check"]: c["detail"] for c in found if not c["ok"]}
        assert code == 3 and broken in failed and words in failed[broken], found
        if broken == "kafka":
            assert set(failed) == {"kafka", "topics", "contracts", "sources"}
            assert all(failed[n].startswith("not checked") for n in ("topics", "contracts", "sources"))
        else:
            assert set(failed) == {broken}


def test_doctor_names_a_port_another_program_holds(live_stack: object, unique: str) -> None:
    import socket

    settings = namespaced(unique)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        code, found = _doctor(settings, POBI_GATEWAY_PORT=str(port))
    [ports] = [c for c in found if c["check"] == "ports"]
    assert code == 3 and not ports["ok"] and f"gateway {port} held by another program" in ports["detail"]
