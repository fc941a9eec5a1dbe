"""The runner around any stage, on doubles: offsets per partition after the last record handled, consumer
events that are not records, topics that do not exist, and a stage whose effects fail."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import KafkaError, TopicPartition

from foundation.settings import load_settings
from streams.runner import BatchWait, StageError, StageRunner, completed
from tests.doubles import FakeConsumer, FakeMessage
from topics.producer import Fenced

SETTINGS = load_settings(kafka_bootstrap="127.0.0.1:1")


class Stage:
    name = "probe"
    batch_size: int | None = None
    batch_wait: BatchWait | None = None

    def __init__(self, topics: list[str], outcome: Future[None] | None = None) -> None:
        self._topics, self._outcome = topics, outcome
        self.batches: list[list[Any]] = []
        self.set_up = self.closed = False

    def topics(self) -> list[str]:
        return self._topics

    def setup(self) -> None:
        self.set_up = True

    def handle(self, messages: list[Any]) -> Future[None]:
        self.batches.append(messages)
        return self._outcome or completed()

    def close(self) -> None:
        self.closed = True


def run(stage: Stage, batches: list[list[FakeMessage]], known: list[str] | None = None) -> FakeConsumer:
    stop = threading.Event()
    consumer = FakeConsumer(batches, stop, known if known is not None else stage.topics())
    StageRunner(SETTINGS, stage, group="g",  # type: ignore[arg-type]
                consumer_factory=lambda _config: consumer).run(stop)  # type: ignore[arg-type,return-value]
    return consumer


def test_offsets_are_the_next_record_of_each_partition() -> None:
    batch = [FakeMessage("a", 0, 5, b""), FakeMessage("a", 1, 9, b""), FakeMessage("a", 0, 6, b""),
             FakeMessage("b", 0, 0, b"")]
    consumer = run(Stage(["a", "b"]), [batch])
    [(_at, stored)] = consumer.stored
    assert sorted(stored) == [("a", 0, 7), ("a", 1, 10), ("b", 0, 1)]


def error(code: int, fatal: bool = False) -> FakeMessage:
    class Err:
        def code(self) -> int:
            return code

        def fatal(self) -> bool:
            return fatal

        def str(self) -> str:
            return f"error {code}"

    return FakeMessage("a", 0, -1, None, error_=Err())


def test_events_that_are_not_records_are_not_handed_to_the_stage() -> None:
    stage = Stage(["a"])
    run(stage, [[error(KafkaError._PARTITION_EOF), FakeMessage("a", 0, 0, b"x"),
                 error(KafkaError._TRANSPORT)]])
    assert [[m.offset() for m in batch] for batch in stage.batches] == [[0]]


def test_a_fatal_consumer_error_stops_the_stage() -> None:
    stage = Stage(["a"])
    with pytest.raises(StageError, match="Kafka consumer failed"):
        run(stage, [[error(KafkaError._FATAL, fatal=True)]])
    assert stage.closed


def test_missing_topics_stop_the_stage_before_it_sets_up() -> None:
    stage = Stage(["a", "b"])
    with pytest.raises(StageError, match="topics b do not exist"):
        run(stage, [], known=["a"])
    assert not stage.set_up and stage.closed


def test_a_failed_effect_stores_nothing_and_stops_the_stage() -> None:
    failed: Future[None] = Future()
    failed.set_exception(ConnectionError("Redis went away"))
    stage = Stage(["a"], failed)
    stop = threading.Event()
    consumer = FakeConsumer([[FakeMessage("a", 0, 0, b"x")]], stop, ["a"])
    with pytest.raises(ConnectionError):
        StageRunner(SETTINGS, stage, group="g",  # type: ignore[arg-type]
                    consumer_factory=lambda _c: consumer).run(stop)  # type: ignore[arg-type,return-value]
    assert consumer.stored == [] and stage.closed and consumer.closed_at is not None


class LaggingConsumer:
    """Holds partitions 0 and 1 of topic ``a`` at positions 5 and 8, with 12 records on each; then loses 1."""

    def __init__(self) -> None:
        self.held = [0, 1]

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("a", p) for p in self.held]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition("a", tp.partition, {0: 5, 1: 8}[tp.partition]) for tp in partitions]

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        return 0, 12


def test_lag_is_reported_per_partition_and_cleared_when_a_partition_moves_away() -> None:
    from monitoring.metrics import metrics

    runner = StageRunner(SETTINGS, Stage(["a"]), group="lag-probe")  # type: ignore[arg-type]
    consumer = LaggingConsumer()
    runner._report_lag(consumer)  # type: ignore[arg-type]
    gauge = metrics().consumer_lag
    assert gauge.labels("lag-probe", "a", "0")._value.get() == 7
    assert gauge.labels("lag-probe", "a", "1")._value.get() == 4
    consumer.held = [0]  # partition 1 went to another worker: its figure is that worker's now
    runner._report_lag(consumer)  # type: ignore[arg-type]
    assert gauge.labels("lag-probe", "a", "1")._value.get() == 0


class FencedProbe(Stage):
    """A transactional stage: the runner hands it the function its transactions take their offsets from."""

    confirms_after_commit = False

    def fence(self, offsets: Any) -> bool:
        return True

    def commit_offsets(self) -> None:
        pass


class Member:
    """A consumer's view of its group: its member id ('' in no generation) and the partitions it holds."""

    def __init__(self, member: str, held: list[tuple[str, int]]) -> None:
        self.member, self.held = member, held

    def memberid(self) -> str:
        return self.member

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in self.held]

    def consumer_group_metadata(self) -> tuple[str, str]:
        return ("generation of", self.member)


def fenced_runner(consumer: Member) -> StageRunner:
    runner = StageRunner(SETTINGS, FencedProbe(["t"]), group="g")  # type: ignore[arg-type]
    runner._consumer = consumer  # type: ignore[assignment]
    return runner


def test_a_batch_is_committed_with_the_offsets_and_generation_it_was_read_in() -> None:
    consumer = Member("m-1", [("t", 0)])
    runner = fenced_runner(consumer)
    batch = [FakeMessage("t", 0, 5, b"v"), FakeMessage("t", 0, 6, b"v")]
    runner._note_reading(consumer, batch)  # type: ignore[arg-type]
    runner._in_hand = {("t", 0): 7}
    offsets, metadata = runner._offsets_to_commit()
    assert [(tp.topic, tp.partition, tp.offset) for tp in offsets] == [("t", 0, 7)]
    assert metadata == ("generation of", "m-1")


@pytest.mark.parametrize(("read_as", "commit_as", "held"), [
    ("m-1", "", [("t", 0)]),  # the session timed out after the read; the loss not served yet
    ("m-1", "", []),  # … and served: no partition left, but the batch's records are in the transaction
    ("m-1", "m-2", [("t", 0)]),  # rejoined as another member before the commit
    ("", "", [("t", 0)]),  # read from what was queued while in no generation
    ("", "m-2", [("t", 0)]),  # … and committed after rejoining
])
def test_a_zombie_batch_is_fenced_before_kafka_is_asked(read_as: str, commit_as: str,
                                                         held: list[tuple[str, int]]) -> None:
    """A worker paused past its session timeout resumes with a batch in hand. Kafka refuses that batch's
    offsets only when they carry the old member and generation: with no member id it would commit a
    transaction's offsets unchecked, and with none at all the records alone. So the runner refuses first."""
    consumer = Member(read_as, [("t", 0)])
    runner = fenced_runner(consumer)
    runner._note_reading(consumer, [FakeMessage("t", 0, 5, b"v")])  # type: ignore[arg-type]
    runner._in_hand = {("t", 0): 6}
    consumer.member, consumer.held = commit_as, held
    with pytest.raises(Fenced):
        runner._offsets_to_commit()


def test_an_idle_commit_in_no_generation_is_fenced_and_one_before_any_read_is_not() -> None:
    consumer = Member("", [("t", 0)])
    runner = fenced_runner(consumer)
    assert runner._offsets_to_commit()[0] == []  # nothing read, nothing confirmed: an empty commit
    runner._confirmed = {("t", 0): 9}  # idle, its position counted as handled
    with pytest.raises(Fenced):
        runner._offsets_to_commit()
