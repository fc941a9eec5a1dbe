"""Deduplication by event id in Redis, built so that at-least-once survives it.

Each event id moves through two states under ``pobi:<ns>:seen:<event_id>``:

- ``r|<worker token>|<digest>`` — *reserved* while a worker handles it, with a short TTL;
- ``c|<outcome letter>|<digest>|<topic>|<partition>|<offset>`` — *confirmed*, written only after the event's
  clean record or dead letter was acknowledged by Kafka, kept for ``dedup_ttl_hours``.

The event id is the caller's key: the normaliser keys by dataset, department and event id, so no publisher
can suppress another's events by reusing an id. The digest is a fingerprint of the event's content: a repeat
whose content differs from the first is a *conflict*, not a duplicate — the caller dead-letters it rather
than dropping it.

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

from foundation.connect import redis_client, redis_text
from foundation.settings import Settings
from foundation.waiting import WaitOut
from monitoring.metrics import count_wait

__all__ = ["Candidate", "Confirmation", "SeenEvents", "StateWrite", "Verdict", "redis_wait"]


def redis_wait() -> WaitOut:
    return WaitOut("Redis", (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError),
                   on_wait=count_wait("redis"))


class Verdict(StrEnum):
    NEW = "new"  # first time: handle it
    RETRY = "retry"  # reserved by a worker that did not confirm (crashed or rebalanced): handle it again
    DUPLICATE = "duplicate"  # confirmed before, from another position: count it, write nothing
    REDELIVERED = "redelivered"  # this very record was handled and counted already
    CONFLICT = "conflict"  # the id was seen before with other content: keep it countable, do not drop it


_VERDICTS = {"n": Verdict.NEW, "r": Verdict.RETRY, "d": Verdict.DUPLICATE, "R": Verdict.REDELIVERED,
             "x": Verdict.CONFLICT}


@dataclass(frozen=True)
class Candidate:
    event_id: str
    position: str  # topic|partition|offset
    replay: bool = False  # the record comes back from a DLQ
    digest: str = ""  # hex fingerprint of the content; empty: not compared


@dataclass(frozen=True)
class Confirmation:
    event_id: str
    outcome: str  # clean, dlq, duplicate or conflict (a conflict is dead-lettered, and marked like a duplicate)
    position: str
    digest: str = ""


@dataclass(frozen=True)
class StateWrite:
    """One field of a Redis hash the stage keeps (e.g. a case's stage → time)."""

    key: str
    field: str
    value: str


# Lists travel as one string joined by the unit separator (\x1f): packing 15,000 arguments in redis-py costs
# more than the whole script. Verdicts come back as one letter per event: n new, r retry, d duplicate,
# R redelivered.
_SEP = "\x1f"
_OUTCOME_LETTER = {"clean": "c", "dlq": "q", "duplicate": "d", "conflict": "x"}

_RESERVE = """
local seen_prefix, dup_prefix, token, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local replays, positions, digests = ARGV[7], {}, {}
for p in string.gmatch(ARGV[6], '[^\\31]+') do positions[#positions + 1] = p end
for d in string.gmatch(ARGV[8], '([^\\31]*)\\31') do digests[#digests + 1] = d end
local mine, out, i = 'r|' .. token .. '|', {}, 0
for id in string.gmatch(ARGV[5], '[^\\31]+') do
  i = i + 1
  local key, position, digest = seen_prefix .. id, positions[i], digests[i]
  local value = mine .. digest
  local seen = redis.call('SET', key, value, 'NX', 'PX', ttl, 'GET')
  local verdict = 'n'
  if seen then
    if string.sub(seen, 1, #mine) == mine then
      if string.sub(seen, #mine + 1) == digest then verdict = 'd' else verdict = 'x' end
    elseif string.sub(seen, 1, 2) == 'r|' then verdict = 'r'
    else
      local outcome, sum, where = string.match(seen, '^c|(%a)|(%x*)|(.*)$')
      if where == position then verdict = 'R'
      elseif sum ~= digest and sum ~= '' and digest ~= '' then verdict = 'x'
      elseif outcome == 'q' and string.sub(replays, i, i) == '1' then verdict = 'n'
      else verdict = 'd' end
    end
    if (verdict == 'd' or verdict == 'x') and redis.call('EXISTS', dup_prefix .. position) == 1 then
      verdict = 'R'
    end
    if verdict == 'n' or verdict == 'r' then redis.call('SET', key, value, 'PX', ttl) end
  end
  out[i] = verdict
end
return table.concat(out)
"""

_CONFIRM = """
local seen_prefix, dup_prefix, ledger, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local outcomes, positions, digests, i = ARGV[6], {}, {}, 0
for p in string.gmatch(ARGV[7], '[^\\31]+') do positions[#positions + 1] = p end
for d in string.gmatch(ARGV[8], '([^\\31]*)\\31') do digests[#digests + 1] = d end
for id in string.gmatch(ARGV[5], '[^\\31]+') do
  i = i + 1
  local outcome = string.sub(outcomes, i, i)
  if outcome == 'd' or outcome == 'x' then
    redis.call('SET', dup_prefix .. positions[i], '1', 'PX', ttl)
  else
    redis.call('SET', seen_prefix .. id, 'c|' .. outcome .. '|' .. digests[i] .. '|' .. positions[i], 'PX', ttl)
  end
end
local n = 9
while n <= #ARGV and ARGV[n] ~= '--state' do
  redis.call('HINCRBY', ledger .. ARGV[n], ARGV[n + 1], tonumber(ARGV[n + 2]))
  n = n + 3
end
n = n + 1
while n <= #ARGV do
  redis.call('HSET', ARGV[n], ARGV[n + 1], ARGV[n + 2])
  redis.call('PEXPIRE', ARGV[n], ttl)
  n = n + 3
end
return i
"""


class SeenEvents:
    """The dedup store. While Redis cannot be reached, calls wait and retry with backoff; they never answer
    without Redis. (The worker's consumer has a long ``max.poll.interval.ms`` so that a wait does not cost
    its partitions; a crashed worker is still noticed through its missing heartbeats.)"""

    def __init__(self, settings: Settings, token: str, *, reservation_ttl_s: float = 600.0,
                 client: redis.Redis | None = None, wait: WaitOut | None = None) -> None:
        self.redis = client or redis_client(settings, socket_timeout=10, socket_connect_timeout=3)
        self._token = token
        self._prefixes = [settings.redis_key("seen") + ":", settings.redis_key("dup") + ":"]
        self._ledger = settings.redis_key("ledger") + ":"
        self._reservation_ms = int(reservation_ttl_s * 1000)
        self._confirmed_ms = settings.dedup_ttl_hours * 3_600_000
        self._reserve = self.redis.register_script(_RESERVE)
        self._confirm = self.redis.register_script(_CONFIRM)
        self.wait = wait or redis_wait()

    def reserve(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        if not candidates:
            return []
        args: list[str | int] = [*self._prefixes, self._token, self._reservation_ms,
                _SEP.join(c.event_id for c in candidates), _SEP.join(c.position for c in candidates),
                "".join("1" if c.replay else "0" for c in candidates),
                "".join(c.digest + _SEP for c in candidates)]
        answer = self.wait(lambda: self._reserve(args=args))
        letters = redis_text(answer)
        return [_VERDICTS[letter] for letter in letters]

    def confirm(self, confirmations: Sequence[Confirmation], counts: dict[tuple[str, str], int],
                state: Sequence[StateWrite] = ()) -> None:
        """Mark events as handled, add ``counts`` ({(ledger row, field): n}) to the ledger and write the
        stage's state, in one atomic step."""
        args: list[str | int] = [
            *self._prefixes, self._ledger, self._confirmed_ms, _SEP.join(c.event_id for c in confirmations),
            "".join(_OUTCOME_LETTER[c.outcome] for c in confirmations), _SEP.join(c.position for c in confirmations),
            "".join(c.digest + _SEP for c in confirmations)]
        for (row, field), n in counts.items():
            args += [row, field, n]
        args.append("--state")
        for write in state:
            args += [write.key, write.field, write.value]
        self.wait(lambda: self._confirm(args=args))
