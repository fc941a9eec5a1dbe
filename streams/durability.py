"""Is Redis still holding what the hub wrote? Checked before a normalise stage takes a record.

Redis holds the dedup memory, the ledger and case histories. It must persist them (append-only file,
``appendfsync everysec`` or ``always``), and pobi checks that it does. Even so, a Redis restarted empty (its
file lost) or rolled back (the last second of writes lost) would let repeats through and break the ledger
silently. Two facts outside Redis catch both, at no cost per event:

- Kafka's committed offsets of the stage's group: a record's offset is committed only after its ledger count
  was written, so at any moment the ledger's ``in`` is at least the committed count. Less means Redis lost
  writes (rolled back).
- A generation marker (``pobi:<ns>:generation``) written with the first state: committed offsets with no
  marker mean Redis came back empty.

Either way the stage refuses to start (``StateLost``) with the recovery: ``pobi ledger rebuild``
(``streams.rebuild``), which rebuilds dedup memory, ledger and case histories from ``norm.*`` and
``dlq.normalize`` with the workers stopped.
"""

from __future__ import annotations

import logging
import time
import uuid

import redis

from foundation.connect import redis_text
from foundation.errors import PobiError
from foundation.settings import Settings
from topics.admin import group_progress

__all__ = ["PERSISTENT_FSYNC", "StateLost", "check_persistence", "check_state", "generation_key", "mark_generation"]

logger = logging.getLogger(__name__)
PERSISTENT_FSYNC = ("always", "everysec")


class StateLost(PobiError):  # noqa: N818 - a state of the store, said as the operator sees it
    """Redis does not hold (or does not keep) what the hub wrote; the message says what to do."""


def generation_key(settings: Settings) -> str:
    return settings.redis_key("generation")


def check_persistence(client: redis.Redis, where: str) -> None:
    """StateLost unless Redis writes an append-only file it syncs at least every second. A user without the
    right to read the configuration (the secure profile's ``pobi`` user) cannot check; that is logged, and
    the administrator's stack configures it."""
    try:
        config = client.config_get("append*")
    except redis.exceptions.NoPermissionError:
        logger.info("Redis at %s: this user may not read its configuration; persistence not verified", where)
        return
    except redis.ResponseError as exc:
        logger.info("Redis at %s: configuration not readable (%s); persistence not verified", where, exc)
        return
    values = {redis_text(k): redis_text(v) for k, v in config.items()}
    if values.get("appendonly") != "yes" or values.get("appendfsync") not in PERSISTENT_FSYNC:
        raise StateLost(
            f"Redis at {where} does not keep pobi's state on disk (appendonly {values.get('appendonly')}, "
            f"appendfsync {values.get('appendfsync')}); run it with --appendonly yes --appendfsync everysec")



def mark_generation(client: redis.Redis, settings: Settings, how: str) -> None:
    client.hset(generation_key(settings), mapping={"id": uuid.uuid4().hex, "since_ms": int(time.time() * 1000),
                                                   "how": how})


def check_state(settings: Settings, client: redis.Redis, datasets: list[str], stage: str = "normalize") -> None:
    """StateLost if Redis came back empty or rolled back under a ledger Kafka still remembers; marks a new
    generation when neither Redis nor Kafka has seen the stage before."""
    from streams.ledger import read_ledger

    where = f"{settings.redis_host}:{settings.redis_port}"
    check_persistence(client, where)
    topics = {d: settings.topics.ingest(d) for d in datasets}
    # offsets first: the ledger only grows ahead of them, so reading it second can never raise a false alarm
    progress = group_progress(settings, settings.topics.group(stage), list(topics.values()))
    committed = {d: progress[t][1] for d, t in topics.items()}
    recovery = ("stop every worker of this namespace and run `pobi ledger rebuild`, which rebuilds the dedup "
                "memory, the ledger and case histories from norm.* and dlq.normalize")
    if not client.exists(generation_key(settings)):
        if any(committed.values()):
            done = ", ".join(f"{topics[d]} {n}" for d, n in committed.items() if n)
            raise StateLost(f"Redis at {where} holds none of pobi's state, but Kafka says the {stage} stage "
                            f"handled records before ({done}): Redis restarted empty. {recovery}")
        mark_generation(client, settings, "new")
        return
    for row in read_ledger(settings, client, stage, datasets):
        counted = row.counts.get("in", 0)
        if counted < committed[row.dataset]:
            raise StateLost(f"Redis at {where} counts {counted} records in for {topics[row.dataset]}, but Kafka "
                            f"says {committed[row.dataset]} were handled: Redis lost its latest writes (rolled "
                            f"back). {recovery}")
