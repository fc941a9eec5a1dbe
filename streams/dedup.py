"""Deduplication by event id in Redis, built so that at-least-once survives it.

Each event id moves through two states under ``pobi:<ns>:seen:<event_id>``:

- ``r|<worker token>`` — *reserved* while a worker handles it, with a short TTL;
- ``c|<outcome>|<topic>|<partition>|<offset>`` — *confirmed*, written only after the event's clean record or
  dead letter was acknowledged by Kafka, kept for ``dedup_ttl_hours``.

A crash between the two leaves a reservation, never a confirmation, so the event is handled again rather
than lost (its repeat on ``norm.*`` carries the same event id). A confirmed record seen again at the same
topic/partition/offset is a *redelivery* (the offset commit was lost), not a duplicate: it is skipped and not
counted twice; counted duplicates leave a marker under ``dup:<position>`` for the same reason. A record
replayed from a DLQ passes a ``dlq`` confirmation but not a ``clean`` one.

Both steps are one Lua script call per batch, so a batch of 5,000 events costs two round trips. The confirm
script also adds the batch's counts to the ledger and writes the stage's state (approval case histories),
so counts, confirmations and state never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import redis

from pobi.settings import Settings
from streams.redis_wait import RedisWait

__all__ = ["Candidate", "Confirmation", "SeenEvents", "StateWrite", "Verdict"]


class Verdict(StrEnum):
    NEW = "new"  # first time: handle it
    RETRY = "retry"  # reserved by a worker that did not confirm (crashed or rebalanced): handle it again
    DUPLICATE = "duplicate"  # confirmed before, from another position: count it, write nothing
    REDELIVERED = "redelivered"  # this very record was handled and counted already


@dataclass(frozen=True)
class Candidate:
    event_id: str
    position: str  # topic|partition|offset
    replay: bool = False  # the record comes back from a DLQ


@dataclass(frozen=True)
class Confirmation:
    event_id: str
    outcome: str  # clean, dlq or duplicate
    position: str


@dataclass(frozen=True)
class StateWrite:
    """One field of a Redis hash the stage keeps (e.g. a case's stage → time)."""

    key: str
    field: str
    value: str


_RESERVE = """
local seen_prefix, dup_prefix, token, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local out = {}
for i = 5, #ARGV, 3 do
  local key, position, replay = seen_prefix .. ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local seen = redis.call('GET', key)
  local verdict
  if not seen then
    verdict = 'new'
  elseif string.sub(seen, 1, 2) == 'r|' then
    if seen == 'r|' .. token then verdict = 'duplicate' else verdict = 'retry' end
  else
    local outcome, where = string.match(seen, '^c|([^|]*)|(.*)$')
    if where == position then verdict = 'redelivered'
    elseif outcome == 'dlq' and replay == '1' then verdict = 'new'
    else verdict = 'duplicate' end
  end
  if verdict == 'duplicate' and redis.call('EXISTS', dup_prefix .. position) == 1 then
    verdict = 'redelivered'
  end
  if verdict == 'new' or verdict == 'retry' then
    redis.call('SET', key, 'r|' .. token, 'PX', ttl)
  end
  out[#out + 1] = verdict
end
return out
"""

_CONFIRM = """
local seen_prefix, dup_prefix, ledger, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local confirmations, counts = tonumber(ARGV[5]), tonumber(ARGV[6])
local i = 7
for _ = 1, confirmations do
  local event_id, outcome, position = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if outcome == 'duplicate' then
    redis.call('SET', dup_prefix .. position, '1', 'PX', ttl)
  else
    redis.call('SET', seen_prefix .. event_id, 'c|' .. outcome .. '|' .. position, 'PX', ttl)
  end
  i = i + 3
end
for _ = 1, counts do
  redis.call('HINCRBY', ledger .. ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]))
  i = i + 3
end
while i <= #ARGV do
  redis.call('HSET', ARGV[i], ARGV[i + 1], ARGV[i + 2])
  redis.call('PEXPIRE', ARGV[i], ttl)
  i = i + 3
end
return confirmations
"""


class SeenEvents:
    """The dedup store. While Redis cannot be reached, calls wait and retry with backoff; they never answer
    without Redis. (The worker's consumer has a long ``max.poll.interval.ms`` so that a wait does not cost
    its partitions; a crashed worker is still noticed through its missing heartbeats.)"""

    def __init__(self, settings: Settings, token: str, *, reservation_ttl_s: float = 600.0,
                 client: redis.Redis | None = None, wait: RedisWait | None = None) -> None:
        self.redis = client or redis.Redis(host=settings.redis_host, port=settings.redis_port,
                                           socket_timeout=10, socket_connect_timeout=3)
        self._token = token
        self._prefixes = [settings.redis_key("seen") + ":", settings.redis_key("dup") + ":"]
        self._ledger = settings.redis_key("ledger") + ":"
        self._reservation_ms = int(reservation_ttl_s * 1000)
        self._confirmed_ms = settings.dedup_ttl_hours * 3_600_000
        self._reserve = self.redis.register_script(_RESERVE)
        self._confirm = self.redis.register_script(_CONFIRM)
        self.wait = wait or RedisWait()

    def reserve(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        if not candidates:
            return []
        args: list[str | int] = [*self._prefixes, self._token, self._reservation_ms]
        for c in candidates:
            args += [c.event_id, c.position, "1" if c.replay else "0"]
        answer = self.wait(lambda: self._reserve(args=args))
        return [Verdict(v.decode() if isinstance(v, bytes) else v) for v in answer]

    def confirm(self, confirmations: Sequence[Confirmation], counts: dict[tuple[str, str], int],
                state: Sequence[StateWrite] = ()) -> None:
        """Mark events as handled, add ``counts`` ({(ledger row, field): n}) to the ledger and write the
        stage's state, in one atomic step."""
        args: list[str | int] = [*self._prefixes, self._ledger, self._confirmed_ms, len(confirmations), len(counts)]
        for c in confirmations:
            args += [c.event_id, c.outcome, c.position]
        for (row, field), n in counts.items():
            args += [row, field, n]
        for write in state:
            args += [write.key, write.field, write.value]
        self.wait(lambda: self._confirm(args=args))
