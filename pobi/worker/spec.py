"""What a worker runs: which stage, on which datasets, with what batch size, and how many copies.

A spec is plain data so that it can cross into child processes; ``build`` makes the runner there.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from foundation.settings import Settings
from monitoring.metrics import metrics
from streams.runner import StageError, StageRunner

__all__ = ["StageSpec", "run_copies"]

logger = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class StageSpec:
    stage: str
    settings_values: dict[str, Any] = field(repr=False)
    datasets: tuple[str, ...] = ()
    batch_size: int | None = None

    @classmethod
    def of(cls, stage: str, settings: Settings, datasets: list[str] | None = None,
           batch_size: int | None = None) -> StageSpec:
        return cls(stage, settings.model_dump(), tuple(datasets or ()), batch_size)

    def build(self) -> StageRunner:
        from sinks.clickhouse.stage import SinkStage
        from sinks.webhook.stage import WebhookStage
        from streams.cdc.stage import CdcStage
        from streams.fanout.stage import FanoutStage
        from streams.normalize.stage import NormalizeStage

        settings = Settings(**self.settings_values)
        kinds = {"cdc": CdcStage, "normalize": NormalizeStage, "fanout": FanoutStage, "webhook": WebhookStage,
                 "sink": SinkStage}
        if self.stage not in kinds:
            raise StageError(f"unknown stage {self.stage!r}")
        stage = kinds[self.stage](settings, datasets=list(self.datasets) or None)
        return StageRunner(settings, stage, batch_size=self.batch_size)


def _child(spec: StageSpec) -> None:
    """One copy of a stage in its own process. It dies with its parent (a worker killed with SIGKILL leaves
    no orphan consuming on its own), leaves Ctrl-C to the parent, and stops after its current batch on
    SIGTERM — which is how the parent stops it: a signal, not a shared lock a dead process could hold."""
    with contextlib.suppress(OSError):  # not Linux: the parent's SIGTERM still ends the child
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    done = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        spec.build().run(done)
    except Exception as exc:
        logger.error("stage %s stopped: %s", spec.stage, exc)
        raise SystemExit(1) from None


def run_copies(spec: StageSpec, copies: int, stop: threading.Event, *, children: bool | None = None,
               grace_s: float = 20.0) -> None:
    """Run ``copies`` of the stage until ``stop``: as child processes sharing the work through the consumer
    group (one Python process is bound to one core), or, for a single copy, on this thread unless
    ``children`` asks for a process. A child that exits is a StageError (logged, counted in
    ``pobi_stage_failures_total``), so the worker stops non-zero rather than run half-alive; on the way out
    every child gets SIGTERM and ``grace_s`` to finish its batch, then SIGKILL."""
    metrics().known(metrics().stage_failures, (spec.stage,))
    if copies == 1 and not children:
        try:
            spec.build().run(stop)
        except Exception:
            metrics().stage_failures.labels(spec.stage).inc()
            raise
        return
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_child, args=(spec,), name=f"pobi-{spec.stage}-{n}")
                 for n in range(copies)]
    for process in processes:
        process.start()
    try:
        while not stop.wait(0.5) and all(p.is_alive() for p in processes):
            pass
    finally:
        killed = _stop_children(processes, grace_s)
    # a child asked to stop exits 0 (or -SIGTERM, stopped before its handler was installed); any other exit
    # (SIGKILL from the OOM killer, a crash) is a failure, even when it came in the same moment as SIGTERM
    failed = [p for p in processes if p.exitcode not in (0, -signal.SIGTERM) and p not in killed]
    if failed:
        metrics().stage_failures.labels(spec.stage).inc(len(failed))
        raise StageError(f"{failed[0].name} exited with code {failed[0].exitcode}; see its log above")


def _stop_children(processes: list[Any], grace_s: float) -> list[Any]:
    """SIGTERM to every child still running, ``grace_s`` to finish, then SIGKILL; the ones that needed it."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace_s
    killed = []
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            logger.warning("%s did not stop within %.0f s; killed", process.name, grace_s)
            process.kill()
            process.join(5)
            killed.append(process)
        _forget_metrics(process.pid)
    return killed


def _forget_metrics(pid: int | None) -> None:
    """A finished child's live gauges (consumer lag) no longer count."""
    import os

    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # untyped in prometheus-client
