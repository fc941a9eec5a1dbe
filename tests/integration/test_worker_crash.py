"""`pobi worker` killed with SIGKILL mid-stream and restarted: every event ends in norm.* or the DLQ, none
is missing, repeats carry the same event id, and the ledger balances.

(A single-node Kafka keeps acknowledged data across the worker's crash; this proves the worker's
at-least-once protocol, not power-loss durability of the broker.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pobi.demo.traffic import DemoTraffic
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from tests.kafka_helpers import read_all
from tests.stream_helpers import create_stream_topics, namespaced, wait_until_idle
from topics.admin import record_counts
from topics.producer import Publisher

pytestmark = pytest.mark.stack
EVENTS = 40_000


def start_worker(namespace: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "POBI_NAMESPACE": namespace, "POBI_WORKER_BATCH": "2000"}
    pobi = Path(sys.executable).with_name("pobi")
    return subprocess.Popen([str(pobi), "worker", "--stage", "normalize", "--dataset", "person"], env=env,
                            stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def test_sigkill_mid_stream_loses_nothing(live_stack: object, unique: str, tmp_path: Path) -> None:
    settings = namespaced(unique)
    create_stream_topics(settings, ["person"], partitions=6)
    traffic = DemoTraffic(seed=11)
    schema = default_registry().latest("person")
    sent: list[str] = []
    with Publisher(settings) as publisher:
        for n in range(EVENTS):
            event_id = f"p-{n}"
            publisher.send_event("person", build_envelope(
                schema, event_id=event_id, op="c", source=SourceRef("public-security", "register"),
                position=str(n), ts_ms=int(time.time() * 1000), before=None, after=traffic.person()),
                topic=settings.topics.ingest("person"))
            sent.append(event_id)

    log = tmp_path / "worker.log"
    worker = start_worker(settings.namespace, log)
    norm = settings.topics.norm("person")
    deadline = time.monotonic() + 120
    while record_counts(settings, [norm])[norm] < EVENTS // 4:
        assert worker.poll() is None, f"the worker exited early:\n{log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, "the worker produced too little in 120 s"
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    at_kill = record_counts(settings, [norm])[norm]
    assert at_kill < EVENTS, "the worker finished before it could be killed; send more events"

    worker = start_worker(settings.namespace, log)
    try:
        ledger = wait_until_idle(settings, ["person"], timeout_s=180)["person"]
    finally:
        worker.send_signal(signal.SIGINT)
        assert worker.wait(60) == 0, f"Ctrl-C did not stop the worker cleanly:\n{log.read_text()[-2000:]}"

    codec = Codec()
    clean_ids = Counter(codec.decode(m.value())[1]["event_id"] for m in read_all(settings, norm, timeout_s=60))
    letters = [codec.decode(m.value())[1] for m in read_all(settings, settings.topics.dlq("normalize"))]
    dead_ids = Counter(letter["context"]["event_id"] for letter in letters)
    missing = set(sent) - set(clean_ids) - set(dead_ids)
    assert not missing, f"{len(missing)} events are in neither norm.person nor the DLQ"
    assert not set(clean_ids) & set(dead_ids)
    repeats = sum(n - 1 for n in clean_ids.values() if n > 1) + sum(n - 1 for n in dead_ids.values() if n > 1)
    print(f"\nSIGKILL after {at_kill} clean records: {repeats} repeats on norm/dlq after the restart, "
          f"{len(clean_ids)} distinct clean, {len(dead_ids)} dead letters")
    assert ledger.status == "balanced"
    assert (ledger.counts["in"], ledger.counts["duplicate"]) == (EVENTS, 0)
    assert ledger.counts["clean"] == len(clean_ids) and ledger.counts["dlq"] == len(dead_ids)


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def stage_children(worker: subprocess.Popen, count: int, log: Path) -> list[int]:
    """The worker's stage processes (spawned Python children, not multiprocessing's resource tracker)."""
    deadline = time.monotonic() + 60
    while True:
        assert worker.poll() is None, f"the worker exited early:\n{log.read_text()[-2000:]}"
        stages = [c for c in children_of(worker.pid)
                  if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        if len(stages) >= count:
            return stages
        assert time.monotonic() < deadline, "the worker did not start its stage processes"
        time.sleep(0.2)


def test_a_dead_child_stops_the_worker_visibly_and_sigterm_always_works(live_stack: object, unique: str,
                                                                         tmp_path: Path) -> None:
    settings = namespaced(unique)
    create_stream_topics(settings, ["person"], partitions=6)
    log = tmp_path / "worker.log"
    env = {**os.environ, "POBI_NAMESPACE": settings.namespace, "POBI_METRICS_PORT": "19464", "POBI_API_PORT": "0"}
    pobi = str(Path(sys.executable).with_name("pobi"))
    command = [pobi, "worker", "--stage", "normalize", "--dataset", "person", "--processes", "2"]

    worker = subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    first, _second = stage_children(worker, 2, log)
    os.kill(first, signal.SIGKILL)  # a child dies (the kernel's OOM killer, a segfault in a library…)
    worker.send_signal(signal.SIGTERM)  # and the operator stops the worker at once
    code = worker.wait(45)
    assert code != 0, "a worker whose stage died must not exit 0"
    assert "exited with code -9" in log.read_text()

    worker = subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    first, _second = stage_children(worker, 2, log)
    os.kill(first, signal.SIGKILL)  # nobody stops it: the worker notices on its own
    assert worker.wait(45) == 1, log.read_text()[-2000:]

    worker = subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    stage_children(worker, 2, log)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(45) == 0, log.read_text()[-2000:]


def test_sigterm_stops_a_worker_whose_stage_waits_for_an_unreachable_redis(live_stack: object, unique: str,
                                                                            tmp_path: Path) -> None:
    """A stage waiting out a dependency does not look up from the wait; SIGTERM still ends the worker within
    its grace period (20 s), and nothing was committed."""
    settings = namespaced(unique)
    create_stream_topics(settings, ["person"])
    log = tmp_path / "worker.log"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = s.getsockname()[1]
    env = {**os.environ, "POBI_NAMESPACE": settings.namespace, "POBI_METRICS_PORT": "19466", "POBI_API_PORT": "0",
           "POBI_REDIS_PORT": str(nobody)}
    worker = subprocess.Popen([str(Path(sys.executable).with_name("pobi")), "worker", "--stage", "normalize",
                               "--dataset", "person", "--processes", "1"], env=env, stdout=log.open("ab"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while "Redis is unreachable" not in log.read_text():
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.5)
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(60)
    assert time.monotonic() - started < 45, "SIGTERM took longer than the grace period"
    assert "did not stop within 20 s" in log.read_text()
