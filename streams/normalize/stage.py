"""The normalisation stage: every record on ``ingest.<dataset>`` becomes exactly one of a clean event on
``norm.<dataset>``, a counted duplicate, or a dead letter on ``dlq.normalize`` with its reason.

Per batch: decode → reserve the event ids in Redis *while* the rules run and the clean events are encoded
→ produce clean events and dead letters for the ids that were new → wait for Kafka's acknowledgements →
confirm ids, ledger counts and case histories in Redis. The confirmation runs while the runner fetches the
next batch; the runner stores a batch's offsets only once its confirmation is done. A crash anywhere before
that re-processes the batch.

All Redis work goes through one single-thread executor, so it happens in batch order: a batch's reservation
and case-history read come after the previous batch's confirmation.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import Message

from foundation.clock import CST
from foundation.errors import DecodeError
from foundation.kafka import origin
from foundation.settings import Settings
from monitoring.metrics import metrics, observe_many
from schemas.codec import Codec
from schemas.registry import WireSchema
from streams.dedup import Candidate, Confirmation, SeenEvents, StateWrite, Verdict
from streams.durability import check_state
from streams.normalize.envelope import content_digest, dedup_key, envelope_problem
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from streams.rules.approval import check_case_stage
from streams.rules.outcome import RuleViolation
from streams.runner import BatchWait
from topics.dead_letters import REPLAY_HEADER, DeadLetter, DlqLimit
from topics.producer import MAX_RECORD_BYTES, OffsetsToCommit, Publisher, stage_publisher

__all__ = ["REPLAY_HEADER", "NormalizeStage"]

logger = logging.getLogger(__name__)

_HANDLED = (Verdict.NEW, Verdict.RETRY)


@dataclass(slots=True)
class Arrival:
    """One record as it arrived, decoded and normalised as far as it could be."""

    message: Message
    dataset: str
    position: str
    seen_key: str  # what dedup knows the record by: dataset, department and event id
    schema: WireSchema | None = None
    event: dict[str, Any] | None = None
    problem: RuleViolation | None = None
    replay: bool = False
    digest: str = ""  # of the decoded event: a repeat of its id with other content is a conflict
    clean: dict[str, Any] | None = None
    encoded: bytes | None = None


class NormalizeStage:
    name = "normalize"
    batch_size: int | None = None  # the worker's setting
    batch_wait: BatchWait | None = None
    confirms_after_commit = True  # the ids are confirmed in Redis after the commit

    def __init__(self, settings: Settings, *, datasets: list[str] | None = None, codec: Codec | None = None,
                 seen: SeenEvents | None = None, publisher: Publisher | None = None,
                 clock: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.settings = settings
        self.clock = clock  # epoch ms; replaceable so tests can judge records "at" another time
        self.codec = codec or Codec()
        self.datasets = datasets or self.codec.registry.datasets
        self._given = (seen, publisher)  # test doubles; otherwise setup() connects
        self.seen: SeenEvents  # set by setup()
        self.publisher: Publisher
        self._dataset_of = {settings.topics.ingest(d): d for d in self.datasets}
        self._output = {d: (settings.topics.norm(d), self.codec.registry.latest(f"{d}.clean"))
                        for d in self.datasets}
        self._dlq_topic = settings.topics.dlq("normalize")
        self._redis = ThreadPoolExecutor(1, thread_name_prefix="normalize-redis")
        self._limit = DlqLimit(self.name, settings.dlq_limit, settings.dlq_limit_window)
        self._commit_with: OffsetsToCommit | None = None

    def topics(self) -> list[str]:
        return list(self._dataset_of)

    def fence(self, offsets: OffsetsToCommit) -> bool:
        if self._given[1] is not None:
            return False
        self._commit_with = offsets
        return True

    def commit_offsets(self) -> None:
        self.publisher.commit_offsets()

    def setup(self) -> None:
        """Redis (checked to still hold what the hub wrote before it is relied on) and the producer. Set up
        again after a fence, it starts with a new dedup token: the reservations of the aborted batch are
        another worker's to retry, and its own when it reads them again."""
        seen, publisher = self._given
        self._redis = ThreadPoolExecutor(1, thread_name_prefix="normalize-redis")
        if seen is None:
            seen = SeenEvents(self.settings, token=uuid.uuid4().hex)
            seen.wait(lambda: check_state(self.settings, seen.redis, self.datasets))
        self.seen = seen
        metrics().known(metrics().events, *((d, self.name, o) for d in self.datasets for o in ("in", "clean",
                                                                                                "duplicate")))
        self.publisher = publisher or stage_publisher(self.settings, self.codec, self.name, self._commit_with)

    def handle(self, messages: list[Message]) -> Future[None]:
        """Produce the batch's outcomes and wait for Kafka; returns the pending Redis confirmation."""
        now_ms = self.clock()
        clock = RuleClock(datetime.fromtimestamp(now_ms / 1000, CST).date(), now_ms)
        arrivals = [self._arrive(m) for m in messages]
        reserved = self._redis.submit(self.seen.reserve, [Candidate(a.seen_key, a.position, a.replay, a.digest)
                                                          for a in arrivals])
        for arrival in arrivals:  # pure work, done while Redis answers; a duplicate's is thrown away
            if arrival.problem is None:
                self._normalize(arrival, clock)
        verdicts = reserved.result()
        cases = [a for a, v in zip(arrivals, verdicts, strict=True) if v in _HANDLED and a.dataset == "approval_case"
                 and a.clean is not None and a.clean["after"] is not None]
        state = self._follow_cases(cases) if cases else []
        counts: Counter[tuple[str, str]] = Counter()
        confirmations: list[Confirmation] = []
        for arrival, verdict in zip(arrivals, verdicts, strict=True):
            row = f"{self.name}:{arrival.dataset}"
            if verdict is Verdict.REDELIVERED:
                counts[(row, "redelivered")] += 1
                continue
            counts[(row, "in")] += 1
            if verdict is Verdict.DUPLICATE:
                counts[(row, "duplicate")] += 1
                confirmations.append(Confirmation(arrival.seen_key, "duplicate", arrival.position))
                continue
            if verdict is Verdict.CONFLICT:  # the first event keeps its id; this one waits in the DLQ
                arrival.problem = RuleViolation("event.id_conflict", "another event with this id, dataset and "
                                                "department came first with different content; not dropped")
                arrival.clean = None
            outcome = self._send(arrival)
            counts[(row, outcome)] += 1
            if arrival.problem is not None:
                counts[(row, f"dlq:{arrival.problem.code}")] += 1
            # a conflict is marked like a duplicate, so it never replaces the first event's confirmation
            confirmed_as = "conflict" if verdict is Verdict.CONFLICT else outcome
            confirmations.append(Confirmation(arrival.seen_key, confirmed_as, arrival.position, arrival.digest))
        self._limit.observe(len(messages), {outcome[4:]: n for (_row, outcome), n in counts.items()
                                            if outcome.startswith("dlq:")})
        self.publisher.flush()  # raises PublishError unless Kafka acknowledged every record
        confirmed = self._redis.submit(self.seen.confirm, confirmations, counts, state)
        self._measure(arrivals, verdicts, counts)
        return confirmed

    def _measure(self, arrivals: list[Arrival], verdicts: list[Verdict], counts: Counter[tuple[str, str]]) -> None:
        m = metrics()
        for (row, outcome), n in counts.items():
            if not outcome.startswith("dlq:"):  # dead letters are counted as they are sent
                m.events.labels(row.split(":", 1)[1], self.name, outcome).inc(n)
        now_ms = time.time() * 1000
        from_source: dict[str, list[float]] = {}
        from_ingest: dict[str, list[float]] = {}
        newest: dict[tuple[str, str], int] = {}
        for arrival, verdict in zip(arrivals, verdicts, strict=True):
            clean = arrival.clean
            if clean is None or verdict not in _HANDLED or arrival.problem is not None:
                continue
            ingest_ms = clean["ingest"]["ts_ms"]
            from_source.setdefault(arrival.dataset, []).append(max(0.0, now_ms - clean["ts_ms"]) / 1000)
            from_ingest.setdefault(arrival.dataset, []).append(max(0.0, now_ms - ingest_ms) / 1000)
            key = (arrival.dataset, clean["source"]["department"])
            # freshness is when the hub last heard from the department, not the time its record claims (a file
            # exported a year ago is fresh news today)
            if ingest_ms > newest.get(key, 0):
                newest[key] = ingest_ms
        for dataset, latencies in from_source.items():
            observe_many(m.stage_latency.labels(self.name, dataset, "source"), latencies)
            observe_many(m.stage_latency.labels(self.name, dataset, "ingest"), from_ingest[dataset])
        for (dataset, department), ts_ms in newest.items():
            m.last_source_event.labels(dataset, department).set(ts_ms / 1000)

    def close(self) -> None:
        self._redis.shutdown(wait=True)

    def _arrive(self, message: Message) -> Arrival:
        """The record decoded and checked against what the topic already says; never raises."""
        topic, partition, offset = origin(message)
        position = f"{topic}|{partition}|{offset}"
        dataset = self._dataset_of[topic]
        headers = message.headers() or []
        replay = any(header[0] == REPLAY_HEADER for header in headers)
        # no trustworthy event id yet: the position stands in, so a redelivery is still recognised
        raw = Arrival(message, dataset, position, f"raw:{position}", replay=replay)
        try:
            schema, event = self.codec.decode(message.value())
        except DecodeError as exc:
            raw.problem = RuleViolation(exc.reason, str(exc))
            return raw
        if schema.subject != dataset:
            raw.problem = RuleViolation("event.wrong_topic", f"a {schema.subject} record on {topic}")
            return raw
        problem = envelope_problem(event)
        if problem is not None:
            raw.problem, raw.schema, raw.event = problem, schema, event
            return raw
        return Arrival(message, dataset, position, dedup_key(dataset, event), schema, event, replay=replay,
                       digest=content_digest(event))

    def _normalize(self, arrival: Arrival, clock: RuleClock) -> None:
        """The clean event (and its bytes, unless the case history still has to flag it), or the problem."""
        assert arrival.schema is not None and arrival.event is not None
        message = arrival.message
        timestamp = message.timestamp()[1]
        ingest = {"topic": message.topic(), "partition": message.partition(), "offset": message.offset(),
                  "ts_ms": timestamp if timestamp > 0 else clock.now_ms}
        try:
            arrival.clean = normalize_event(arrival.schema, arrival.event, clock, ingest)
            if arrival.dataset != "approval_case":
                self._encode(arrival)
        except RuleViolation as exc:
            arrival.problem = exc
        except Exception as exc:  # a bug in a rule must not stop the hub: the record waits in the DLQ
            self._unexpected(arrival, exc)

    def _encode(self, arrival: Arrival) -> None:
        """The clean event's bytes, or the problem that keeps it off ``norm.*`` (too large to produce)."""
        assert arrival.clean is not None
        encoded = self.codec.encode_own(self._output[arrival.dataset][1], arrival.clean)
        if len(encoded) + len(arrival.clean["entity"]["id"]) > MAX_RECORD_BYTES:
            raise RuleViolation("event.too_large", f"the clean event has {len(encoded):,} bytes; records "
                                f"over {MAX_RECORD_BYTES:,} cannot be produced")
        arrival.encoded = encoded

    @staticmethod
    def _unexpected(arrival: Arrival, exc: Exception) -> None:
        logger.error("normalising %s failed unexpectedly: %s: %s", arrival.position, type(exc).__name__,
                     str(exc)[:300])
        arrival.clean = None
        arrival.problem = RuleViolation("normalize.unexpected_error", f"{type(exc).__name__}: {str(exc)[:500]}")

    def _send(self, arrival: Arrival) -> str:
        """Produce the arrival's clean event or dead letter; returns the outcome, ``clean`` or ``dlq``."""
        if arrival.problem is None and arrival.clean is not None and arrival.encoded is None:
            try:
                self._encode(arrival)
            except RuleViolation as exc:
                arrival.problem = exc
            except Exception as exc:
                self._unexpected(arrival, exc)
        if arrival.problem is None and arrival.clean is not None and arrival.encoded is not None:
            self.publisher.produce(self._output[arrival.dataset][0], arrival.clean["entity"]["id"].encode(),
                                   arrival.encoded)
            return "clean"
        self._dead_letter(arrival)
        return "dlq"

    def _follow_cases(self, arrivals: list[Arrival]) -> list[StateWrite]:
        """Stage order and time limits need each case's earlier stages: flag against them, then remember
        the new stage (written with the batch's confirmation)."""
        histories = self._redis.submit(self._case_histories, {a.clean["after"]["case_id"] for a in arrivals
                                                              if a.clean}).result()
        state = []
        for arrival in arrivals:
            clean = arrival.clean
            assert clean is not None
            row = clean["after"]
            try:
                stage, stage_ms = row["stage"], int(clean["enrichment"]["stage_time.epoch_ms"])
                seen = histories.setdefault(row["case_id"], {})
                for flag in check_case_stage(stage, stage_ms, seen, statutory_days=row.get("statutory_limit_days"),
                                             promised_days=row.get("promised_limit_days")):
                    clean["quality_flags"].append({"code": flag.code, "field": "stage", "message": flag.message})
                if "applied" in seen and stage in ("approved", "rejected"):
                    days = (stage_ms - seen["applied"]) / 86_400_000
                    clean["enrichment"]["case.days_to_decision"] = f"{days:.2f}"
            except Exception as exc:  # a bug in the case rules: this record waits in the DLQ
                self._unexpected(arrival, exc)
                continue
            seen[stage] = stage_ms
            state.append(StateWrite(self.settings.redis_key("case", row["case_id"]), stage, str(stage_ms)))
        return state

    def _case_histories(self, case_ids: set[str]) -> dict[str, dict[str, int]]:
        ordered = sorted(case_ids)

        def load() -> list[dict[bytes, bytes]]:
            pipe = self.seen.redis.pipeline(transaction=False)
            for case_id in ordered:
                pipe.hgetall(self.settings.redis_key("case", case_id))
            return pipe.execute()

        answers = self.seen.wait(load)
        return {case_id: {k.decode(): int(v) for k, v in answer.items()}
                for case_id, answer in zip(ordered, answers, strict=True)}

    def _dead_letter(self, arrival: Arrival) -> None:
        problem = arrival.problem
        assert problem is not None
        message = arrival.message
        context = {"position": arrival.position}
        if arrival.event is not None:
            context |= {"event_id": str(arrival.event.get("event_id")),
                        "department": str(arrival.event["source"]["department"])}
        self.publisher.send_dead_letter(DeadLetter.of(self.name, problem.code, problem.message, message,
                                                      dataset=arrival.dataset, context=context), self._dlq_topic)
