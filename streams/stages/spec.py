"""What a worker runs: which stage, on which datasets, with what batch size, and how many copies.

A spec is plain data so that it can cross into child processes; ``build`` makes the runner there.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.synchronize
import signal
import threading
from dataclasses import dataclass, field
from typing import Any

from pobi.settings import Settings
from streams.stages.runner import StageError, StageRunner

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
        from streams.stages.fanout import FanoutStage
        from streams.stages.normalize import NormalizeStage
        from streams.stages.webhook import WebhookStage

        settings = Settings(**self.settings_values)
        kinds = {"normalize": NormalizeStage, "fanout": FanoutStage, "webhook": WebhookStage, "sink": SinkStage}
        if self.stage not in kinds:
            raise StageError(f"unknown stage {self.stage!r}")
        stage = kinds[self.stage](settings, datasets=list(self.datasets) or None)
        return StageRunner(settings, stage, batch_size=self.batch_size)


def _child(spec: StageSpec, stop: multiprocessing.synchronize.Event) -> None:
    """One copy of a stage in its own process. It dies with its parent (a worker killed with SIGKILL leaves
    no orphan consuming on its own) and leaves Ctrl-C to the parent, which stops it through ``stop``."""
    with contextlib.suppress(OSError):  # not Linux: the parent's stop event still ends the child
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    done = threading.Event()
    threading.Thread(target=lambda: (stop.wait(), done.set()), daemon=True).start()
    try:
        spec.build().run(done)
    except Exception as exc:
        logger.error("stage %s stopped: %s", spec.stage, exc)
        raise SystemExit(1) from None


def run_copies(spec: StageSpec, copies: int, stop: threading.Event, *, children: bool | None = None) -> None:
    """Run ``copies`` of the stage until ``stop``: as child processes sharing the work through the consumer
    group (one Python process is bound to one core), or, for a single copy, on this thread unless
    ``children`` asks for a process."""
    if copies == 1 and not children:
        spec.build().run(stop)
        return
    context = multiprocessing.get_context("spawn")
    child_stop = context.Event()
    children = [context.Process(target=_child, args=(spec, child_stop), name=f"pobi-{spec.stage}-{n}")
                for n in range(copies)]
    for child in children:
        child.start()
    try:
        while not stop.wait(0.5):
            dead = [c for c in children if not c.is_alive()]
            if dead:
                raise StageError(f"{dead[0].name} exited with code {dead[0].exitcode}; see its log above")
    finally:
        child_stop.set()
        for child in children:
            child.join(60)
            if child.is_alive():
                child.kill()
            _forget_metrics(child.pid)


def _forget_metrics(pid: int | None) -> None:
    """A finished child's live gauges (consumer lag) no longer count."""
    import os

    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
