"""The normalisation stage: every record on ``ingest.<dataset>`` becomes exactly one of a clean event on
``norm.<dataset>``, a counted duplicate, or a dead letter on ``dlq.normalize`` with its reason.

Per batch: decode → reserve event ids (one Redis call) → normalise (pure rules) → produce clean events and
dead letters → wait for Kafka's acknowledgements → confirm ids, ledger counts and case histories (one Redis
call) → the runner stores the offsets. A crash anywhere before the confirmation re-processes the batch.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import Message

from pobi.errors import DecodeError
from pobi.publish.envelope import partition_key
from pobi.publish.producer import Publisher, dead_letter
from pobi.settings import Settings
from schemas.codec import Codec
from schemas.registry import WireSchema
from streams.dedup import Candidate, Confirmation, SeenEvents, StateWrite, Verdict
from streams.normalize.event import normalize_event
from streams.normalize.fields import RuleClock
from streams.rules.approval import check_case_stage
from streams.rules.dates import CST
from streams.rules.outcome import RuleViolation
from streams.rules.text import clean_text

__all__ = ["REPLAY_HEADER", "NormalizeStage"]

logger = logging.getLogger(__name__)

REPLAY_HEADER = "pobi-replay-of"  # set by `pobi dlq replay`: the dead letter's dlq topic/partition/offset


@dataclass
class Arrival:
    """One record as it arrived, decoded as far as it could be."""

    message: Message
    dataset: str
    position: str
    event_id: str
    schema: WireSchema | None = None
    event: dict[str, Any] | None = None
    problem: RuleViolation | None = None
    replay: bool = False


class NormalizeStage:
    name = "normalize"

    def __init__(self, settings: Settings, *, datasets: list[str] | None = None, codec: Codec | None = None,
                 seen: SeenEvents | None = None, publisher: Publisher | None = None,
                 clock: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.settings = settings
        self.clock = clock  # epoch ms; replaceable so tests can judge records "at" another time
        self.codec = codec or Codec()
        self.datasets = datasets or self.codec.registry.datasets
        self.seen = seen or SeenEvents(settings, token=uuid.uuid4().hex)
        # only failed deliveries call back: flush() waits for the rest, so per-record callbacks buy nothing
        self.publisher = publisher or Publisher(settings, self.codec, {"delivery.report.only.error": True})
        self._dataset_of = {settings.topic(f"ingest.{d}"): d for d in self.datasets}
        self._dlq_topic = settings.topic("dlq.normalize")

    def topics(self) -> list[str]:
        return list(self._dataset_of)

    def handle(self, messages: list[Message]) -> None:
        now_ms = self.clock()
        clock = RuleClock(datetime.fromtimestamp(now_ms / 1000, CST).date(), now_ms)
        arrivals = [self._arrive(m) for m in messages]
        verdicts = self.seen.reserve([Candidate(a.event_id, a.position, a.replay) for a in arrivals])
        histories = self._case_histories(a for a, v in zip(arrivals, verdicts, strict=True)
                                         if v in (Verdict.NEW, Verdict.RETRY))
        counts: Counter[tuple[str, str]] = Counter()
        confirmations: list[Confirmation] = []
        state: list[StateWrite] = []
        for arrival, verdict in zip(arrivals, verdicts, strict=True):
            row = f"{self.name}:{arrival.dataset}"
            if verdict is Verdict.REDELIVERED:
                counts[(row, "redelivered")] += 1
                continue
            counts[(row, "in")] += 1
            if verdict is Verdict.DUPLICATE:
                counts[(row, "duplicate")] += 1
                confirmations.append(Confirmation(arrival.event_id, "duplicate", arrival.position))
                continue
            outcome = self._route(arrival, clock, histories, state)
            counts[(row, outcome)] += 1
            if outcome == "dlq" and arrival.problem is not None:
                counts[(row, f"dlq:{arrival.problem.code}")] += 1
            confirmations.append(Confirmation(arrival.event_id, outcome, arrival.position))
        self.publisher.flush()  # raises PublishError unless Kafka acknowledged every record
        self.seen.confirm(confirmations, counts, state)

    def _arrive(self, message: Message) -> Arrival:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        position = f"{topic}|{partition}|{offset}"
        dataset = self._dataset_of[topic]
        headers = message.headers()
        replay = bool(headers) and any(k == REPLAY_HEADER for k, _ in headers)
        try:
            schema, event = self.codec.decode(message.value())
        except DecodeError as exc:
            # no event id to deduplicate by: the position stands in, so a redelivery is still recognised
            return Arrival(message, dataset, position, f"raw:{position}", problem=RuleViolation(exc.reason, str(exc)),
                           replay=replay)
        event_id = event["event_id"]
        if not event_id or "\x1f" in event_id:
            return Arrival(message, dataset, position, f"raw:{position}", schema, event, replay=replay,
                           problem=RuleViolation("event.id_invalid", "the event id is empty or has control characters"))
        arrival = Arrival(message, dataset, position, event_id, schema, event, replay=replay)
        if schema.subject != dataset:
            arrival.problem = RuleViolation("event.wrong_topic", f"a {schema.subject} event on {topic}")
        return arrival

    def _route(self, arrival: Arrival, clock: RuleClock, histories: dict[str, dict[str, int]],
               state: list[StateWrite]) -> str:
        """Produce the arrival's clean event or dead letter; returns the outcome, ``clean`` or ``dlq``."""
        if arrival.problem is None:
            try:
                clean = self._normalize(arrival, clock, histories, state)
            except RuleViolation as exc:
                arrival.problem = exc
            except Exception as exc:  # a bug in a rule must not stop the hub: the record waits in the DLQ
                logger.exception("normalising %s failed unexpectedly", arrival.position)
                arrival.problem = RuleViolation("normalize.unexpected_error", f"{type(exc).__name__}: {exc}")
            else:
                schema = self.codec.registry.latest(f"{arrival.dataset}.clean")
                self.publisher.produce(self.settings.topic(f"norm.{arrival.dataset}"),
                                       partition_key(clean["entity"]["id"]), self.codec.encode_with(schema, clean))
                return "clean"
        self._dead_letter(arrival)
        return "dlq"

    def _normalize(self, arrival: Arrival, clock: RuleClock, histories: dict[str, dict[str, int]],
                   state: list[StateWrite]) -> dict[str, Any]:
        assert arrival.schema is not None and arrival.event is not None
        timestamp = arrival.message.timestamp()[1]
        ingest = {"topic": arrival.message.topic(), "partition": arrival.message.partition(),
                  "offset": arrival.message.offset(), "ts_ms": timestamp if timestamp > 0 else clock.now_ms}
        clean = normalize_event(arrival.schema, arrival.event, clock, ingest)
        if arrival.dataset == "approval_case" and clean["after"] is not None:
            self._follow_case(clean, histories, state)
        return clean

    def _follow_case(self, clean: dict[str, Any], histories: dict[str, dict[str, int]],
                     state: list[StateWrite]) -> None:
        """Stage order and time limits need the case's earlier stages: flag against them, then remember."""
        row = clean["after"]
        stage, stage_ms = row["stage"], int(clean["enrichment"]["stage_time.epoch_ms"])
        seen = histories.setdefault(row["case_id"], {})
        for flag in check_case_stage(stage, stage_ms, seen, statutory_days=row.get("statutory_limit_days"),
                                     promised_days=row.get("promised_limit_days")):
            clean["quality_flags"].append({"code": flag.code, "field": "stage", "message": flag.message})
        if "applied" in seen and stage in ("approved", "rejected"):
            clean["enrichment"]["case.days_to_decision"] = f"{(stage_ms - seen['applied']) / 86_400_000:.2f}"
        seen[stage] = stage_ms
        state.append(StateWrite(self.settings.redis_key("case", row["case_id"]), stage, str(stage_ms)))

    def _case_histories(self, arrivals: Any) -> dict[str, dict[str, int]]:
        case_ids = {clean_text(row.get("case_id")) for a in arrivals
                    if a.dataset == "approval_case" and a.event and (row := a.event["after"] or a.event["before"])}
        case_ids.discard(None)
        if not case_ids:
            return {}
        ordered = sorted(case_ids)  # type: ignore[arg-type]

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
            context |= {"event_id": arrival.event_id, "department": arrival.event["source"]["department"]}
        letter = dead_letter(self.name, problem.code, problem.message, message.value(), dataset=arrival.dataset,
                             original_key=message.key(), source_topic=message.topic(),
                             source_partition=message.partition(), source_offset=message.offset(), context=context)
        self.publisher.send_dead_letter(letter, topic=self._dlq_topic)
