"""pobi's metrics catalogue: every metric the worker exports, with its kind and meaning, in one place.

Metrics are created against a registry, so a test can use a fresh one. The worker runs its stages in
several processes, so it runs prometheus-client in multiprocess mode: ``pobi worker`` points
``PROMETHEUS_MULTIPROC_DIR`` at a folder of its own before anything creates a metric, every process writes
its values there, and the worker's main process serves the sum on ``127.0.0.1:POBI_METRICS_PORT/metrics``
(one scrape target per worker, however many processes it runs).
"""

from __future__ import annotations

import os
import shutil
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Metric

__all__ = ["NamespacedRegistry", "PobiMetrics", "count_wait", "enable_multiprocess", "metrics",
           "multiprocess_registry", "observe_many"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)
_ROW_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000)


class PobiMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.events = Counter("pobi_events_total", "Records a stage handled, by what became of them",
                              ["dataset", "stage", "outcome"], registry=registry)
        self.dead_letters = Counter("pobi_dlq_total", "Records sent to a dead-letter topic, by stage and reason",
                                    ["stage", "reason"], registry=registry)
        self.stage_latency = Histogram(
            "pobi_stage_latency_seconds", "Time from the source change (origin=source) or from its arrival in "
            "Kafka (origin=ingest) to the end of a stage", ["stage", "dataset", "origin"],
            buckets=_LATENCY_BUCKETS, registry=registry)
        self.consumer_lag = Gauge("pobi_consumer_lag_records", "Records on a partition not yet handled by a stage",
                                  ["group", "topic", "partition"], multiprocess_mode="livemax", registry=registry)
        self.sink_batch_rows = Histogram("pobi_sink_batch_rows", "Rows per ClickHouse insert", ["table"],
                                         buckets=_ROW_BUCKETS, registry=registry)
        self.sink_insert_seconds = Histogram("pobi_sink_insert_seconds", "Duration of one ClickHouse insert",
                                             ["table"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.deliveries = Counter("pobi_deliveries_total", "Deliveries to a subscriber", ["subscriber", "mode"],
                                  registry=registry)
        self.delivery_latency = Histogram(
            "pobi_delivery_latency_seconds", "Time from an event's arrival in Kafka to its delivery",
            ["subscriber", "mode"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.delivery_failures = Counter("pobi_delivery_failures_total", "Webhook batches that failed for good",
                                         ["subscriber"], registry=registry)
        self.last_source_event = Gauge(
            "pobi_source_last_event_timestamp_seconds", "When the newest event per dataset and department arrived "
            "at the hub (its ingest time; freshness = time() - this)", ["dataset", "department"],
            multiprocess_mode="max", registry=registry)
        self.waited = Counter("pobi_dependency_wait_seconds_total", "Time a stage waited for an unreachable service",
                              ["service"], registry=registry)
        self.stage_failures = Counter("pobi_stage_failures_total", "Stage copies that stopped with an error (the "
                                      "worker then exits non-zero)", ["stage"], registry=registry)
        self.gateway_requests = Counter("pobi_gateway_requests_total", "HTTP ingest requests, by dataset and "
                                        "answer status", ["dataset", "status"], registry=registry)
        self.gateway_seconds = Histogram("pobi_gateway_request_seconds", "Time from a request's arrival to its "
                                         "answer (Kafka's acknowledgement included)", ["dataset"],
                                         buckets=_LATENCY_BUCKETS, registry=registry)
        self.gateway_in_flight = Gauge("pobi_gateway_records_in_flight", "Records the gateway holds until Kafka "
                                       "acknowledges them", multiprocess_mode="livesum", registry=registry)
        for service in ("redis", "clickhouse"):  # exported as 0 from the start, so rate() has a series
            self.waited.labels(service)

    def known(self, counter: Counter, *label_sets: tuple[str, ...]) -> None:
        """Export ``counter`` at 0 for each set of labels the process already knows it will use, so that
        ``increase()`` and ``rate()`` see the first increment (a series that appears at 1 hides it)."""
        for labels in label_sets:
            counter.labels(*labels)


class NamespacedRegistry:
    """A registry's metrics with ``namespace="<POBI_NAMESPACE or ->"`` on every sample, so that two hubs'
    workers scraped by one Prometheus (or a test's beside the developer's) stay apart."""

    def __init__(self, inner: CollectorRegistry, namespace: str) -> None:
        self._inner, self._namespace = inner, namespace or "-"

    def collect(self) -> Iterator[Metric]:
        for family in self._inner.collect():
            relabelled = Metric(family.name, family.documentation, family.type, family.unit)
            relabelled.samples = [sample._replace(labels={**sample.labels, "namespace": self._namespace})
                                  for sample in family.samples]
            yield relabelled

    def registry(self) -> CollectorRegistry:
        """A registry holding only this view, to serve."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return registry


_metrics: PobiMetrics | None = None
_creating = threading.Lock()


def metrics() -> PobiMetrics:
    """The process's metrics, on the default registry (created once, even when the worker's stage threads
    ask for them at the same moment: a second registration of the same names would be refused)."""
    global _metrics
    if _metrics is None:
        with _creating:
            if _metrics is None:
                _metrics = PobiMetrics()
    return _metrics


def observe_many(histogram: Histogram, amounts: Iterable[float]) -> None:
    """``histogram.observe`` for each amount, with one increment per bucket: a batch's per-event latencies cost a
    bisect each instead of an observation each (a lock, and in multiprocess mode a write to the process's
    file). ``histogram`` is a labelled child. Same buckets and sum as observing one by one (a unit test
    compares them); prometheus-client has no batch call, so this uses its child's bucket values."""
    bounds: list[float] = histogram._upper_bounds
    counts = [0] * len(bounds)
    total = 0.0
    for amount in amounts:
        counts[bisect_left(bounds, amount)] += 1  # the first bound >= amount, as ``observe`` finds it
        total += amount
    if not any(counts):
        return
    histogram._sum.inc(total)
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)


def count_wait(service: str) -> Callable[[float], None]:
    """What a WaitOut for ``service`` hands its waiting time to: ``pobi_dependency_wait_seconds_total``."""
    return lambda seconds: metrics().waited.labels(service).inc(seconds)


def enable_multiprocess(folder: Path) -> None:
    """Point prometheus-client at ``folder`` (emptied first). Call before any metric is created, in the process
    that spawns the others: children inherit the setting. prometheus-client picks its value store when it is
    first imported, which may have happened already (the CLI imports modules that use metrics), so it is
    chosen again here."""
    from prometheus_client import values

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # untyped in prometheus-client


def multiprocess_registry() -> CollectorRegistry:
    """A registry that reads every process's values from the multiprocess folder."""
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped in prometheus-client
    return registry
