"""A namespace isolates ClickHouse too: a worker started with only POBI_NAMESPACE set writes into its own
database (`pobi_<namespace>`), and nothing into another namespace's database or the shared `pobi` one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from foundation.settings import Settings, load_settings
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from sinks.clickhouse.writer import ClickHouseWriter
from tests.kafka_helpers import create_topics
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import create_stream_topics
from topics.producer import Publisher

pytestmark = pytest.mark.stack


def rows_in(writer: ClickHouseWriter, database: str) -> int:
    """Rows in every table of the database but its migrations' record."""
    [(rows,)] = writer.execute("SELECT sum(rows) FROM system.parts WHERE database = %(db)s AND active "
                               "AND table != 'schema_migrations'", {"db": database})
    return int(rows)


def pobi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("pobi")), *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_namespaced_worker_writes_only_into_its_own_database(live_stack: object, settings: Settings, unique: str,
                                                               tmp_path: Path) -> None:
    other = f"{int(unique, 16) ^ 1:010x}"  # another test-shaped namespace, so the stack's clean-up finds both
    ours, theirs = load_settings(namespace=f"t{unique}"), load_settings(namespace=f"t{other}")
    assert (ours.clickhouse_database, theirs.clickhouse_database) == (f"pobi_t{unique}", f"pobi_t{other}")
    writer = ClickHouseWriter(settings, wait=False)
    base = {k: v for k, v in os.environ.items() if k != "POBI_CLICKHOUSE_DATABASE"}
    env = {namespace.namespace: {**base, "POBI_NAMESPACE": namespace.namespace, "POBI_API_PORT": "0",
                                 "POBI_STACK_DIR": str(settings.stack_path), "POBI_SECRETS_DIR": str(tmp_path)}
           for namespace in (ours, theirs)}
    for namespace in (ours, theirs):  # `pobi views migrate` in each namespace: each its own database
        migrated = pobi(env[namespace.namespace], "views", "migrate")
        assert migrated.returncode == 0 and namespace.clickhouse_database in migrated.stdout, migrated.stderr
    create_stream_topics(ours, ["person"])
    create_topics(ours, ours.topics.audit_delivery)
    shared_before = rows_in(writer, "pobi")
    with Publisher(ours) as publisher:
        for n in range(3):
            row = SAMPLE_ROWS["person"] | {"id_number": ["350102199003071234", "350102199003072018",
                                                         "11010519491231002X"][n]}
            publisher.send_event("person", build_envelope(
                default_registry().latest("person"), event_id=f"ns-{n}", op="c", source=SourceRef("police", "hukou"),
                position=str(n), ts_ms=int(time.time() * 1000), before=None, after=row),
                topic=ours.topics.ingest("person"))

    log = tmp_path / "worker.log"
    worker = subprocess.Popen([str(Path(sys.executable).with_name("pobi")), "worker", "--stage", "normalize",
                               "--stage", "sink", "--dataset", "person", "--processes", "1"],
                              env=env[ours.namespace], stdout=log.open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while writer.execute(f"SELECT count() FROM {ours.clickhouse_database}.events")[0][0] < 3:
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(60)
    assert rows_in(writer, ours.clickhouse_database) > 3
    assert rows_in(writer, theirs.clickhouse_database) == 0
    assert rows_in(writer, "pobi") == shared_before
    for namespace in (ours, theirs):
        writer.execute(f"DROP DATABASE IF EXISTS {namespace.clickhouse_database}")
