"""`pobi ledger rebuild`: the normalise stage's Redis state made again from what Kafka holds, after Redis
came back empty or rolled back (``streams.durability`` stops the stage until then).

With every worker of the namespace stopped, it reads ``norm.<dataset>`` and ``dlq.normalize`` to their ends
and writes, per dataset:

- dedup memory: each clean event's and dead letter's key confirmed at its ingest position, so repeats
  published later are still recognised (their content fingerprint is not on the topics, so a reused id with
  other content counts as a duplicate rather than a conflict until the entry expires);
- case histories (stage → time) of approval cases;
- the ledger: ``in`` = the records the group has committed, ``clean`` and ``dlq`` (by reason) = the distinct
  ingest positions found on ``norm.*`` and ``dlq.normalize``, and ``duplicate`` = the rest (repeats leave
  nothing on a topic; records whose results retention already deleted are counted here too);
- a new generation marker.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis
from confluent_kafka import Consumer

from foundation.errors import DecodeError, PobiError
from foundation.kafka import client_config
from foundation.settings import Settings
from schemas.codec import Codec
from streams.dedup import Confirmation, SeenEvents, StateWrite
from streams.durability import mark_generation
from streams.normalize.envelope import dedup_key
from topics.admin import admin_client, group_progress, records_to_end

__all__ = ["RebuiltDataset", "rebuild_state"]


@dataclass
class RebuiltDataset:
    dataset: str
    counted_in: int
    clean: int = 0
    dlq: Counter[str] = field(default_factory=Counter)

    @property
    def duplicate(self) -> int:
        return max(0, self.counted_in - self.clean - sum(self.dlq.values()))

    def ledger(self) -> dict[tuple[str, str], int]:
        row = f"normalize:{self.dataset}"
        counts = {(row, "in"): self.counted_in, (row, "clean"): self.clean, (row, "dlq"): sum(self.dlq.values()),
                  (row, "duplicate"): self.duplicate}
        return counts | {(row, f"dlq:{reason}"): n for reason, n in self.dlq.items()}


def _require_stopped(settings: Settings) -> None:
    group = settings.topics.group("normalize")
    admin = admin_client(settings)  # must outlive its futures
    described = admin.describe_consumer_groups([group])[group].result(timeout=15)
    if described.members:
        raise PobiError(f"{len(described.members)} worker(s) of group {group} are running; stop every worker of "
                        "this namespace before rebuilding its state")


def rebuild_state(settings: Settings, datasets: list[str], client: redis.Redis | None = None) -> list[RebuiltDataset]:
    """Rebuild dedup memory, case histories and ledger of the normalise stage from Kafka; see the module."""
    _require_stopped(settings)
    seen = SeenEvents(settings, token="rebuild", client=client)
    topics = {d: settings.topics.ingest(d) for d in datasets}
    progress = group_progress(settings, settings.topics.group("normalize"), list(topics.values()))
    found = {d: RebuiltDataset(d, progress[t][1]) for d, t in topics.items()}
    confirmations: dict[str, Confirmation] = {}
    cases: dict[str, StateWrite] = {}
    codec = Codec()
    consumer = Consumer(client_config(settings, **{"group.id": settings.topics.group("rebuild"),
                                                   "enable.auto.commit": False}))
    try:
        for dataset in datasets:
            positions: set[str] = set()
            for message in records_to_end(consumer, settings.topics.norm(dataset)):
                event = _decoded(codec, message.value())
                if event is None:
                    continue
                ingest = event["ingest"]
                position = f"{ingest['topic']}|{ingest['partition']}|{ingest['offset']}"
                positions.add(position)
                key = dedup_key(dataset, event)
                confirmations[key] = Confirmation(key, "clean", position)
                if dataset == "approval_case" and event["after"] is not None:
                    stage_ms = event["enrichment"].get("stage_time.epoch_ms")
                    if stage_ms:
                        case_key = settings.redis_key("case", event["after"]["case_id"])
                        cases[f"{case_key}|{event['after']['stage']}"] = StateWrite(
                            case_key, event["after"]["stage"], str(stage_ms))
            found[dataset].clean = len(_ingest_positions(topics[dataset], positions))
        letters: dict[str, tuple[str, str]] = {}  # ingest position → (dataset, reason)
        for message in records_to_end(consumer, settings.topics.dlq("normalize")):
            letter = _decoded(codec, message.value())
            if letter is None or letter.get("dataset") not in found or letter.get("source_topic") is None:
                continue
            position = f"{letter['source_topic']}|{letter['source_partition']}|{letter['source_offset']}"
            letters[position] = (letter["dataset"], letter["reason"])
            context = letter["context"]
            if "event_id" in context and "department" in context:
                event = {"event_id": context["event_id"], "source": {"department": context["department"]}}
                key = dedup_key(letter["dataset"], event)
            else:
                key = f"raw:{position}"
            if key not in confirmations or confirmations[key].outcome != "clean":
                confirmations[key] = Confirmation(key, "dlq", position)
        for dataset, reason in letters.values():
            found[dataset].dlq[reason] += 1
    finally:
        consumer.close()
    _write(settings, seen, list(confirmations.values()), list(cases.values()), found)
    return list(found.values())


def _ingest_positions(topic: str, positions: set[str]) -> set[str]:
    """The positions that are on this namespace's ingest topic (a clean event names where it came from)."""
    return {p for p in positions if p.rsplit("|", 2)[0] == topic}


def _decoded(codec: Codec, value: bytes | None) -> dict[str, Any] | None:
    try:
        return codec.decode(value)[1]
    except DecodeError:
        return None


def _write(settings: Settings, seen: SeenEvents, confirmations: list[Confirmation], cases: list[StateWrite],
           found: dict[str, RebuiltDataset]) -> None:
    client = seen.redis
    ledger_prefix = settings.redis_key("ledger")
    for dataset in found:
        client.delete(f"{ledger_prefix}:normalize:{dataset}")
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for rebuilt in found.values():
        for key, n in rebuilt.ledger().items():
            counts[key] += n
    for start in range(0, max(len(confirmations), 1), 5000):  # one atomic script call per 5,000 keys
        chunk = confirmations[start:start + 5000]
        seen.confirm(chunk, counts if start == 0 else {}, cases if start == 0 else [])
    mark_generation(client, settings, "rebuilt")
