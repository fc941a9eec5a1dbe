"""The metrics catalogue: one registry per test, every stage's dead letters in one metric, waiting counted,
and the worker's multiprocess store chosen even when prometheus-client was imported first (it once was, by
the publisher, and the worker's main-process metrics vanished from /metrics)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from monitoring.metrics import PobiMetrics


def value(registry: CollectorRegistry, name: str, labels: dict[str, str]) -> float | None:
    return registry.get_sample_value(name, labels)


def test_every_metric_is_in_the_catalogue_with_its_labels() -> None:
    registry = CollectorRegistry()
    m = PobiMetrics(registry)
    m.dead_letters.labels("sink", "sink.insert_refused").inc()
    m.dead_letters.labels("ingest", "csv.malformed").inc(2)
    m.stage_failures.labels("normalize").inc()
    assert value(registry, "pobi_dlq_total", {"stage": "sink", "reason": "sink.insert_refused"}) == 1
    assert value(registry, "pobi_dlq_total", {"stage": "ingest", "reason": "csv.malformed"}) == 2
    assert value(registry, "pobi_stage_failures_total", {"stage": "normalize"}) == 1
    # waiting is exported as 0 from the start, so rate() has a series before the first outage
    assert value(registry, "pobi_dependency_wait_seconds_total", {"service": "redis"}) == 0


def test_the_multiprocess_store_is_used_even_when_prometheus_client_came_first(tmp_path: Path) -> None:
    script = f"""
import prometheus_client  # imported before the worker points it at its folder, as the CLI does
from pathlib import Path
from monitoring.metrics import count_wait, enable_multiprocess, metrics, multiprocess_registry
enable_multiprocess(Path({str(tmp_path / 'metrics')!r}))
count_wait("redis")(1.5)
print(multiprocess_registry().get_sample_value("pobi_dependency_wait_seconds_total", {{"service": "redis"}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1.5"
    assert list((tmp_path / "metrics").glob("counter_*.db"))


def test_known_labels_start_at_zero_and_every_sample_says_its_namespace() -> None:
    from prometheus_client import generate_latest

    from monitoring.metrics import NamespacedRegistry

    registry = CollectorRegistry()
    m = PobiMetrics(registry)
    m.known(m.delivery_failures, ("fuzhou-city",), ("credit-system",))
    assert value(registry, "pobi_delivery_failures_total", {"subscriber": "fuzhou-city"}) == 0  # before any failure
    m.delivery_failures.labels("fuzhou-city").inc()
    served = NamespacedRegistry(registry, "t1").registry()
    assert value(served, "pobi_delivery_failures_total", {"subscriber": "fuzhou-city", "namespace": "t1"}) == 1
    assert value(served, "pobi_delivery_failures_total", {"subscriber": "credit-system", "namespace": "t1"}) == 0
    text = generate_latest(served).decode()
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert samples and all('namespace="t1"' in line for line in samples)
    assert 'namespace="-"' in generate_latest(NamespacedRegistry(registry, "").registry()).decode()
