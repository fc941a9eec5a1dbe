"""The ledger: per stage and dataset, how many records came in and where each went (clean, duplicate, dead
letter by reason). The stages add to it in the same atomic Redis step that confirms the records (see
``streams.dedup``), and Redis keeps it on disk (append-only file), so a worker restart loses nothing.

Reading it beside Kafka's own offsets gives the check operators rely on: once a stage is idle (its group has
committed everything), the records on its topics equal its ``in``, and ``in = clean + duplicate + dlq``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from foundation.connect import redis_client, redis_text
from foundation.errors import PobiError
from foundation.settings import Settings
from topics.admin import group_progress

__all__ = ["LedgerRow", "read_ledger", "wait_until_idle"]

OUTCOMES = ("clean", "duplicate", "dlq")


@dataclass
class LedgerRow:
    stage: str
    dataset: str
    on_topic: int  # records ever written to the stage's input topic
    committed: int  # records the stage's consumer group has committed past
    counts: dict[str, int] = field(default_factory=dict)  # in, clean, duplicate, dlq, redelivered
    dlq_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def accounted(self) -> int:
        return sum(self.counts.get(o, 0) for o in OUTCOMES)

    @property
    def idle(self) -> bool:
        return self.committed >= self.on_topic

    @property
    def status(self) -> str:
        if self.counts.get("in", 0) != self.accounted:
            return "unbalanced: in ≠ clean + duplicate + dlq"
        if not self.idle:
            return f"catching up ({self.on_topic - self.committed} to go)"
        if self.counts.get("in", 0) != self.on_topic:
            return f"unbalanced: {self.on_topic} on the topic, {self.counts.get('in', 0)} counted in"
        return "balanced"

    @property
    def balanced(self) -> bool:
        """Nothing is off: the outcomes add up to ``in``, and an idle stage counted every record on its topic."""
        return not self.status.startswith("unbalanced")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


def read_ledger(settings: Settings, client: redis.Redis | None = None, stage: str = "normalize",
                datasets: list[str] | None = None) -> list[LedgerRow]:
    from schemas.registry import default_registry

    client = client or redis_client(settings, socket_connect_timeout=3)
    names = datasets or default_registry().datasets
    topics = {d: settings.topics.ingest(d) for d in names}
    progress = group_progress(settings, settings.topics.group(stage), list(topics.values()))
    rows = []
    for dataset in names:
        raw = client.hgetall(f"{settings.redis_key('ledger')}:{stage}:{dataset}")
        values = {redis_text(k): int(v) for k, v in raw.items()}
        on_topic, committed = progress[topics[dataset]]
        rows.append(LedgerRow(
            stage, dataset, on_topic, committed,
            counts=dict.fromkeys(("in", *OUTCOMES), 0) | {k: v for k, v in values.items() if not k.startswith("dlq:")},
            dlq_reasons={k.removeprefix("dlq:"): v for k, v in sorted(values.items()) if k.startswith("dlq:")}))
    return rows


def wait_until_idle(settings: Settings, datasets: list[str] | None = None, timeout_s: float = 90.0,
                    stage: str = "normalize") -> dict[str, LedgerRow]:
    """The ledger rows once the stage's group has committed every record on its topics (a stage confirms
    its counts before it stores offsets, so the counts are then complete); PobiError saying how far each
    dataset got if that takes longer than ``timeout_s``."""
    import time

    client = redis_client(settings, socket_connect_timeout=3)
    deadline = time.monotonic() + timeout_s
    while True:
        rows = {r.dataset: r for r in read_ledger(settings, client, stage, datasets)}
        if all(r.idle for r in rows.values()):
            return rows
        if time.monotonic() > deadline:
            progress = ", ".join(f"{r.dataset} {r.committed}/{r.on_topic}" for r in rows.values())
            raise PobiError(f"the {stage} stage did not catch up within {timeout_s:.0f}s ({progress})")
        time.sleep(0.5)
