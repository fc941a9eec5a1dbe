"""When a batch closes: a short wait after its first record at low load, longer (bounded) when batches take
long to handle; and the runner opens a batch with one record and fills it within that wait."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from foundation.settings import load_settings
from streams.batching import BatchWait, BatchWindow
from streams.runner import StageRunner
from tests.doubles import FakeConsumer, FakeMessage
from tests.unit.test_runner import Stage


def test_an_idle_stage_waits_only_the_floor_and_a_busy_one_a_share_of_its_work() -> None:
    window = BatchWindow(BatchWait(0.01, 0.25))
    assert window.wait_s == 0.01
    window.handled(0.002)  # a lone record, handled at once
    assert window.wait_s == 0.01
    window.handled(0.4)  # a large batch: the next may wait a quarter of that
    assert window.wait_s == pytest.approx(0.1)
    window.handled(30.0)  # never past the ceiling
    assert window.wait_s == 0.25


def test_bounds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="floor <= ceiling"):
        BatchWait(1.0, 0.5)


class Recording(FakeConsumer):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.asked: list[tuple[int, float]] = []

    def consume(self, num_messages: int = 1, timeout: float = 0) -> list[FakeMessage]:
        self.asked.append((num_messages, timeout))
        return super().consume(num_messages, timeout)


def test_the_runner_fills_a_batch_after_its_first_record_within_the_window() -> None:
    stage = Stage(["a"])
    stage.batch_wait = BatchWait(0.05, 2.0)
    stop = threading.Event()
    consumer = Recording([[FakeMessage("a", 0, n, b"") for n in range(3)], []], stop, ["a"])
    StageRunner(load_settings(kafka_bootstrap="127.0.0.1:1"), stage, group="g", batch_size=100,  # type: ignore[arg-type]
                consumer_factory=lambda _c: consumer).run(stop)  # type: ignore[arg-type,return-value]
    assert [[m.offset() for m in batch] for batch in stage.batches] == [[0, 1, 2]]
    assert consumer.asked == [(99, 0.05)]  # the first record came by poll; the rest may wait the floor


def test_observing_a_batch_at_once_counts_as_observing_it_one_by_one() -> None:
    from prometheus_client import CollectorRegistry, Histogram

    from monitoring.metrics import observe_many

    registry = CollectorRegistry()
    histogram = Histogram("h", "h", ["stage"], buckets=(0.01, 0.1, 1, 10), registry=registry)
    amounts = [0.0, 0.01, 0.010001, 0.05, 0.1, 3.0, 10.0, 11.0, 1e9]
    for amount in amounts:
        histogram.labels("one-by-one").observe(amount)
    observe_many(histogram.labels("at-once"), amounts)
    observe_many(histogram.labels("at-once"), [])

    def samples(label: str) -> list[tuple[str, dict[str, str], float]]:
        return [(s.name, {k: v for k, v in s.labels.items() if k != "stage"}, s.value)
                for metric in registry.collect() for s in metric.samples
                if s.labels.get("stage") == label and not s.name.endswith("_created")]

    assert samples("at-once") == samples("one-by-one") and len(samples("at-once")) == 7
