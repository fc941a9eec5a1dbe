"""In-memory doubles of what stages talk to — a Kafka consumer, the publisher, the dedup store, the contract
book, ClickHouse — so the stage contract and the runner can be tested without the live stack. Each double
keeps a shared sequence number on its effects, so a test can tell the order in which things happened."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import TopicPartition

from foundation.errors import PublishError
from schemas.codec import Codec
from schemas.envelope import record_key
from streams.dedup import Candidate, Confirmation, StateWrite, Verdict
from topics.dead_letters import DeadLetter

__all__ = ["FakeBook", "FakeConsumer", "FakeMessage", "FakePublisher", "FakeSeenEvents", "FakeWriter"]

_ticks = itertools.count()


def tick() -> int:
    return next(_ticks)


@dataclass
class FakeMessage:
    topic_: str
    partition_: int
    offset_: int
    value_: bytes | None
    key_: bytes | None = b"k"
    headers_: list[tuple[str, bytes]] | None = None
    error_: Any = None  # a KafkaError for the consumer's error events

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def value(self) -> bytes | None:
        return self.value_

    def key(self) -> bytes | None:
        return self.key_

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)

    def error(self) -> Any:
        return self.error_


@dataclass
class _Metadata:
    topics: dict[str, object]


class FakeConsumer:
    """Hands out ``batches`` one per ``poll`` (its first record) and ``consume`` (the rest), then sets ``stop``;
    records stored offsets."""

    def __init__(self, batches: list[list[FakeMessage]], stop: threading.Event, topics: Sequence[str]) -> None:
        self._batches = [list(batch) for batch in batches]
        self._stop = stop
        self._topics = list(topics)
        self.stored: list[tuple[int, list[tuple[str, int, int]]]] = []  # (tick, [(topic, partition, offset)])
        self.closed_at: int | None = None

    def list_topics(self, topic: str | None = None, timeout: float = 0) -> _Metadata:
        return _Metadata(dict.fromkeys(self._topics, object()))

    def subscribe(self, topics: list[str]) -> None:
        pass

    def poll(self, timeout: float = 0) -> FakeMessage | None:
        if not self._batches:
            self._stop.set()
            return None
        if not self._batches[0]:
            self._batches.pop(0)
            return None
        return self._batches[0].pop(0)

    def consume(self, num_messages: int = 1, timeout: float = 0) -> list[FakeMessage]:
        return self._batches.pop(0) if self._batches else []

    def store_offsets(self, offsets: list[TopicPartition]) -> None:
        self.stored.append((tick(), [(tp.topic, tp.partition, tp.offset) for tp in offsets]))

    def assignment(self) -> list[TopicPartition]:
        return []

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return partitions

    def close(self) -> None:
        self.closed_at = tick()


class FakePublisher:
    """The publisher's interface; ``flush`` raises PublishError when ``failing``."""

    def __init__(self, codec: Codec | None = None, failing: bool = False) -> None:
        self.codec = codec or Codec()
        self.failing = failing
        self.records: list[tuple[str, bytes | None, bytes]] = []
        self.letters: list[tuple[str, DeadLetter]] = []
        self.flushed_at: list[int] = []

    def produce(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.records.append((topic, key, value))

    def produce_with_headers(self, topic: str, key: bytes | None, value: bytes, headers: object) -> None:
        self.produce(topic, key, value)

    def send_event(self, dataset: str, envelope: dict[str, Any], topic: str) -> None:
        schema = self.codec.registry.latest(dataset)
        self.produce(topic, record_key(schema, envelope), self.codec.encode_with(schema, envelope))

    def send_dead_letter(self, letter: DeadLetter, topic: str) -> None:
        self.letters.append((topic, letter))
        self.produce(topic, letter.original_key, self.codec.encode("dead_letter", letter.record()))

    def flush(self, timeout_s: float = 60.0) -> None:
        if self.failing:
            raise PublishError("Kafka refused 1 records: Broker: Not enough in-sync replicas")
        self.flushed_at.append(tick())


class FakeSeenEvents:
    """The dedup store with the same verdicts as the Lua scripts in ``streams.dedup``, kept in a dict."""

    def __init__(self, token: str = "w1", store: dict[str, str] | None = None) -> None:
        self.token = token
        self.store = {} if store is None else store  # share one store between two "workers"
        self.ledger: Counter[tuple[str, str]] = Counter()
        self.state: list[StateWrite] = []
        self.confirmed_at: list[int] = []
        self.redis = self  # _case_histories reads hashes through a pipeline

    def wait(self, call: Any) -> Any:
        return call()

    def reserve(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        mine, out = f"r|{self.token}|", []
        for c in candidates:
            key, value = f"seen:{c.event_id}", f"r|{self.token}|{c.digest}"
            seen = self.store.get(key)
            verdict = Verdict.NEW
            if seen is None:
                self.store[key] = value
            else:
                if seen.startswith(mine):
                    verdict = Verdict.DUPLICATE if seen[len(mine):] == c.digest else Verdict.CONFLICT
                elif seen.startswith("r|"):
                    verdict = Verdict.RETRY
                else:
                    _c, outcome, digest, where = seen.split("|", 3)
                    if where == c.position:
                        verdict = Verdict.REDELIVERED
                    elif digest and c.digest and digest != c.digest:
                        verdict = Verdict.CONFLICT
                    elif outcome == "q" and c.replay:
                        verdict = Verdict.NEW
                    else:
                        verdict = Verdict.DUPLICATE
                if verdict in (Verdict.DUPLICATE, Verdict.CONFLICT) and f"dup:{c.position}" in self.store:
                    verdict = Verdict.REDELIVERED
                if verdict in (Verdict.NEW, Verdict.RETRY):
                    self.store[key] = value
            out.append(verdict)
        return out

    def confirm(self, confirmations: Sequence[Confirmation], counts: dict[tuple[str, str], int],
                state: Sequence[StateWrite] = ()) -> None:
        letters = {"clean": "c", "dlq": "q", "duplicate": "d", "conflict": "x"}
        for c in confirmations:
            if c.outcome in ("duplicate", "conflict"):
                self.store[f"dup:{c.position}"] = "1"
            else:
                self.store[f"seen:{c.event_id}"] = f"c|{letters[c.outcome]}|{c.digest}|{c.position}"
        self.ledger.update(counts)
        self.state += state
        self.confirmed_at.append(tick())

    def pipeline(self, transaction: bool = False) -> _Pipeline:
        return _Pipeline(self)


@dataclass
class _Pipeline:
    owner: FakeSeenEvents
    keys: list[str] = field(default_factory=list)

    def hgetall(self, key: str) -> None:
        self.keys.append(key)

    def execute(self) -> list[dict[bytes, bytes]]:
        return [{w.field.encode(): w.value.encode() for w in self.owner.state if w.key == key} for key in self.keys]


class FakeBook:
    """The contracts in force, as ``pobi.subscriptions`` documents; ``refresh`` reports no change."""

    def __init__(self, documents: dict[str, dict[str, Any]], allow: list[Any] | None = None) -> None:
        """``allow``: the networks webhooks may reach (POBI_WEBHOOK_ALLOW)."""
        from topics.subscriptions import ContractBook

        self.documents = documents
        self._real = ContractBook.__new__(ContractBook)  # its pure checks, without a consumer
        self._real.documents, self._real._refused, self._real._allow = documents, {}, allow or []
        self._real._topic = "pobi.subscriptions"
        self.closed = False

    def refresh(self) -> list[str]:
        return []

    def contracts(self, registry: Any = None) -> Any:
        return self._real.contracts(registry)

    def contract(self, subscriber: str, registry: Any = None) -> Any:
        return self._real.contract(subscriber, registry)

    def close(self) -> None:
        self.closed = True


class FakeSchemaIds:
    """The registry's ids (``pobi.schemas``) in memory: each schema gets its natural id."""

    def __init__(self) -> None:
        self.schemas: dict[int, str] = {}  # id → canonical form

    def ensure(self, schemas: dict[str, str]) -> dict[str, int]:
        from schemas.confluent import natural_id

        for fingerprint, canonical in schemas.items():
            self.schemas[natural_id(fingerprint)] = canonical
        return {fingerprint: natural_id(fingerprint) for fingerprint in schemas}

    def close(self) -> None:
        pass


class _Client:
    def __init__(self) -> None:
        self.disconnected = 0

    def disconnect(self) -> None:
        self.disconnected += 1


class FakeWriter:
    """ClickHouse as the sink sees it: ``insert`` per table; ``refuse`` a value to make the server refuse
    any insert whose columns contain it."""

    def __init__(self, refuse: object = None) -> None:
        self.client = _Client()
        self.refuse = refuse
        self.inserted: dict[str, list[list[Any]]] = {}
        self.inserted_at: list[int] = []

    database = "fake"

    def insert(self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
        if self.refuse is not None and any(self.refuse in column for column in data):
            raise ValueError(f"Code: 53. DB::Exception: Type mismatch in {table}")
        self.inserted.setdefault(table, []).append([list(c) for c in data])
        self.inserted_at.append(tick())

    def execute(self, query: str, params: dict[str, Any] | None = None) -> list[Any]:
        """The only query the sink asks: the highest offset its tallies counted per partition."""
        assert "tally_cover" in query, query
        cover: dict[tuple[str, int], int] = {}
        for *_, topics, partitions, offsets in self.inserted.get("stage_tallies", []):
            for topic, partition, offset in zip(topics, partitions, offsets, strict=True):
                cover[topic, partition] = max(offset, cover.get((topic, partition), -1))
        return [(t, p, o) for (t, p), o in cover.items()]

