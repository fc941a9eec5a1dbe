"""Kafka Connect killed with SIGKILL while 5,000 changes flow, then restarted: Debezium resumes from the last
offset Connect committed and sends again what it had sent after it. No change is lost, none is clean twice:
the redelivered ones keep their event ids (from the source position) and the ledger counts them as
duplicates."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import orjson
import pytest

from pobi.stack.manager import Stack
from pobi.stack.service import port_is_open
from schemas.codec import Codec
from streams.cdc.debezium import RowChange, read_change
from streams.cdc.stage import CdcStage
from tests.cdc_helpers import cdc_source, department, insert, resident
from tests.kafka_helpers import create_topics, read_all
from tests.stream_helpers import create_stream_topics, namespaced, running_stage, wait_until_idle
from topics.admin import record_counts

pytestmark = pytest.mark.stack
CHANGES = 5_000


def _kill_and_restart_connect(stack: Stack) -> None:
    connect = stack.service("connect")
    pid = connect.our_pid()
    assert pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    # the JVM's last threads close its sockets a moment after its main thread is gone
    while connect.our_pid() is not None or any(port_is_open(connect.host, p) for p in connect.ports):
        time.sleep(0.1)
    connect.start()


def test_connect_killed_mid_stream_loses_nothing_and_counts_redeliveries(live_stack: Stack, unique: str,
                                                                         tmp_path: Path) -> None:
    settings = namespaced(unique)
    create_stream_topics(settings, ["person"])
    create_topics(settings, settings.topics.sources, partitions=1)
    rows = [resident(n, county="350203") for n in range(CHANGES)]
    with cdc_source(settings, unique, tmp_path) as (source, table), \
            running_stage(settings, ["person"], CdcStage(settings, datasets=["person"])), \
            running_stage(settings, ["person"]):
        def write() -> None:
            with department() as conn:
                for start in range(0, CHANGES, 100):  # 50 transactions over about ten seconds
                    with conn.transaction():
                        insert(conn, table, rows[start:start + 100])
                    time.sleep(0.2)

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(3)
        _kill_and_restart_connect(live_stack)
        writer.join(120)

        norm = settings.topics.norm("person")
        deadline = time.monotonic() + 120
        codec = Codec()
        clean: list[dict] = []
        while time.monotonic() < deadline:
            clean = [codec.decode(m.value())[1] for m in read_all(settings, norm)]
            if len(clean) >= CHANGES:
                break
            time.sleep(2)
        ledger = wait_until_idle(settings, ["person"])["person"]
        topic = f"{settings.topics.cdc_prefix(source.source)}.hukou.{table}"
        sent = [read_change(orjson.loads(m.value())) for m in read_all(settings, topic) if m.value() is not None]
        on_topics = record_counts(settings, [topic, settings.topics.ingest("person"), settings.topics.dlq("ingest")])

    ids = [e["event_id"] for e in clean]
    assert len(ids) == CHANGES, (on_topics, ledger)
    assert len(ids) == CHANGES and len(set(ids)) == CHANGES  # every change, each clean once
    assert {e["after"]["id_number"] for e in clean} == {str(r["gmsfhm"]) for r in rows}
    row_changes = sum(isinstance(c, RowChange) for c in sent)
    assert ledger.counts.get("clean") == CHANGES
    assert ledger.counts.get("duplicate", 0) == row_changes - CHANGES  # what Debezium sent twice, counted, not kept
    print(f"Debezium sent {row_changes} row changes for {CHANGES}; {ledger.counts} in the ledger")
