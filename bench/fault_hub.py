"""The hub the fault harness runs: a three-broker local cluster with ClickHouse and Redis, pobi's topics, one
subscriber contract and ClickHouse's tables in a namespace per run, ``pobi worker`` processes that behave like
separate hosts, a paced publisher that remembers which events Kafka acknowledged, and a reader of every place
an event may end.

Everything here is the product as an operator runs it — `pobi worker` as a process, the catalogue replicated
as the cluster says — only the load and the bookkeeping belong to the harness.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer

from foundation.clock import CST
from foundation.kafka import client_config
from foundation.settings import Settings, load_settings
from pobi.demo.traffic import valid_id_number
from pobi.stack.manager import Stack
from schemas.codec import Codec
from schemas.envelope import SourceRef, build_envelope, record_key
from schemas.registry import default_registry
from sinks.clickhouse.migrate import apply_migrations
from sinks.clickhouse.stage import SinkStage
from sinks.clickhouse.writer import ClickHouseWriter
from streams.fanout.stage import FanoutStage
from topics.admin import admin_client, apply_catalogue, group_progress, records_to_end
from topics.producer import PRODUCER_SETTINGS
from topics.subscriptions import CONTRACTS_DIR, apply_contracts, deployment_catalogue, load_contracts

SUBSCRIBER = "fuzhou-city"  # its contract takes Fuzhou's residents; every person the load sends lives there
FUZHOU = ("350102", "350104", "350181")
PORT_BASE = 19500  # the harness's stack listens on 195xx unless told otherwise (--port-base)
STAGES = ("normalize", "fanout", "sink")


def cluster_settings(root: Path, base: int = PORT_BASE) -> Settings:
    """The harness's own stack under ``root``, on ports of its own from ``base`` (brokers on base+92, +192 and
    +292, workers' metrics on base-30+n), as `pobi stack up --brokers 3` runs it."""
    stack = root / "stack"
    return load_settings(stack_dir=stack, secrets_dir=stack / "secrets", kafka_bootstrap=f"127.0.0.1:{base + 92}",
                         kafka_controller_port=base + 93, clickhouse_port=base, clickhouse_http_port=base + 23,
                         redis_port=base + 79, metrics_port=base - 30, api_port=0)


def cluster(settings: Settings) -> Stack:
    return Stack(settings, brokers=3, only=("kafka", "clickhouse", "redis"))


def prepare_run(stack: Stack, namespace: str) -> Settings:
    """A namespace with every topic (replicated three times, two in sync), the subscriber's contract and the
    ClickHouse tables; its settings."""
    settings = stack.settings.model_copy(update={"namespace": namespace, "clickhouse_database": namespace})
    apply_catalogue(admin_client(settings), deployment_catalogue(settings))
    writer = ClickHouseWriter(settings, wait=False)
    apply_migrations(lambda q: writer.execute(q), settings.clickhouse_database)
    contracts, problems = load_contracts(CONTRACTS_DIR, default_registry(), datetime.now(CST).date())
    assert not problems, problems
    apply_contracts(settings, [c for c in contracts if c.subscriber == SUBSCRIBER], default_registry())
    return settings


# -- workers ------------------------------------------------------------------------------------------------
@dataclass
class WorkerProcess:
    """One `pobi worker` process with the normalise, fan-out and sink stages, like one host of a deployment."""

    number: int
    settings: Settings
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **self.settings.as_environment(), "POBI_API_PORT": "0", "POBI_WORKER_BATCH": "2000",
               "POBI_METRICS_PORT": str(self.settings.metrics_port + self.number)}
        pobi = Path(sys.executable).with_name("pobi")
        command = [str(pobi), "worker", *(f"--stage={s}" for s in STAGES), "--processes", "1"]
        self.process = subprocess.Popen(command, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, sig)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM (a resumed process first), then wait; SIGKILL past ``timeout_s``. Its exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.process.wait(10)


# -- load -------------------------------------------------------------------------------------------------
@dataclass
class Load:
    """``events`` person changes at ``rate`` per second over a pool of Fuzhou residents (so one resident's
    changes are ordered on one partition), a share of them with a spoiled ID number (they must end in the DLQ).
    Event ``n`` has id ``<tag>-<n>``; acknowledgements and send times are kept per ``n``."""

    settings: Settings
    events: int
    rate: float
    tag: str
    residents: int = 2000
    spoiled_share: float = 0.01
    acknowledged: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)
    sent_at: dict[int, float] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        rng = random.Random(self.tag)
        self._rng = rng
        self._pool = []
        for n in range(self.residents):
            county = FUZHOU[n % len(FUZHOU)]
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
            seq = rng.randrange(0, 1000)
            self._pool.append({"id_number": valid_id_number(county, born, seq), "name": "陈志明",
                               "gender": "1" if seq % 2 else "2", "birth_date": born.isoformat(),
                               "division_code": county, "address": f"福州市五四路{n % 300 + 1}号"})

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="load", daemon=True)
        thread.start()
        return thread

    def _row(self) -> dict[str, Any]:
        row = {**self._rng.choice(self._pool), "phone": f"139{self._rng.randrange(10**7, 10**8)}"}
        if self._rng.random() < self.spoiled_share:
            row["id_number"] = row["id_number"][:-1] + ("0" if row["id_number"][-1] != "0" else "1")
        return row

    def _run(self) -> None:
        producer = Producer(client_config(self.settings, **PRODUCER_SETTINGS))
        codec, schema = Codec(), default_registry().latest("person")
        topic, source = self.settings.topics.ingest("person"), SourceRef("public-security", "register")
        started = time.monotonic()
        try:
            for n in range(self.events):
                while n >= (time.monotonic() - started) * self.rate:
                    producer.poll(0.005)
                envelope = build_envelope(schema, event_id=f"{self.tag}-{n}", op="u", source=source,
                                          position=str(n), ts_ms=int(time.time() * 1000), before=None,
                                          after=self._row())
                self.sent_at[n] = time.time()
                producer.produce(topic, codec.encode_with(schema, envelope), record_key(schema, envelope),
                                 on_delivery=self._receipt(n))
                producer.poll(0)
            producer.flush(180)
        finally:
            self.done.set()

    def _receipt(self, n: int) -> Any:
        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is None:
                self.acknowledged.add(n)
            else:
                self.refused[n] = error.str()
        return delivered


# -- watching and reading ---------------------------------------------------------------------------------
def stage_topics(settings: Settings) -> dict[str, list[str]]:
    """The consumer group of each stage and the topics it reads (pure: no stage is set up)."""
    return {settings.topics.group("normalize"): [settings.topics.ingest("person")],
            settings.topics.group("fanout"): FanoutStage(settings).topics(),
            settings.topics.group("sink"): SinkStage.topics_for(settings)}


class LagWatch:
    """Samples, once a second, how many records the three stages together have not committed yet."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.samples: list[tuple[float, int | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag", daemon=True)

    def __enter__(self) -> LagWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        groups = stage_topics(self.settings)
        while not self._stop.wait(1.0):
            try:
                lag = sum(max(0, ends - committed) for group, names in groups.items()
                          for ends, committed in group_progress(self.settings, group, names).values())
            except Exception:  # a broker away: the sample is missing, not zero
                lag = None
            self.samples.append((time.time(), lag))

    def recovered_after(self, since: float, threshold: int) -> float:
        """Seconds from ``since`` to the last sample that was over ``threshold`` (or missing); 0 if none was."""
        late = [at for at, lag in self.samples if at >= since and (lag is None or lag > threshold)]
        return round(max(late) - since, 1) if late else 0.0

    def drained(self, timeout_s: float) -> bool:
        """Until every stage has committed every record it reads."""
        deadline = time.monotonic() + timeout_s
        groups = stage_topics(self.settings)
        while time.monotonic() < deadline:
            try:
                if all(committed >= ends for group, names in groups.items()
                       for ends, committed in group_progress(self.settings, group, names).values()):
                    return True
            except Exception:
                pass
            time.sleep(1.0)
        return False


def read_topic(settings: Settings, topic: str) -> Iterator[Message]:
    """Every record of ``topic`` up to its end offsets now, each partition in offset order (what
    `pobi dlq list` reads with)."""
    consumer = Consumer(client_config(settings, **{"group.id": f"faults-reader-{time.monotonic_ns()}",
                                                   "enable.auto.commit": False, "enable.partition.eof": True}))
    try:
        yield from records_to_end(consumer, topic)
    finally:
        consumer.close()
