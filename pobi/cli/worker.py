"""`pobi worker`: run the hub's stages in the foreground."""

from __future__ import annotations

import os

import typer

from foundation.errors import PobiError
from pobi.cli.output import get_settings
from pobi.worker import OWN_PROCESS, SINGLE_COPY, STAGES
from schemas.registry import default_registry


def worker(stage: list[str] = typer.Option(list(STAGES), "--stage", help="stage to run (repeatable)"),
           dataset: list[str] = typer.Option([], "--dataset", help="only these datasets (default: all)"),
           batch: int = typer.Option(0, "--batch", min=0, max=100_000, help="records per batch (0: the setting)"),
           processes: int = typer.Option(0, "--processes", min=0, max=64,
                                         help="copies of normalize and fanout, one per process (0: the CPU "
                                              "cores shared among the busy stages run, at least one); "
                                              "cdc, webhook and sink run one"),
           ) -> None:
    """Run pobi's stages until Ctrl-C or SIGTERM; several workers share the work through consumer groups.

    Example: `pobi worker --stage normalize --stage sink --processes 2`
    """
    settings = get_settings()
    # before anything imports prometheus-client: every process of this worker writes its metrics here
    metrics_dir = settings.stack_path / "metrics" / str(os.getpid())
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    from monitoring.metrics import enable_multiprocess
    from pobi.worker.app import Worker  # Faust is slow to import; only this command needs it
    from pobi.worker.spec import StageSpec

    enable_multiprocess(metrics_dir)
    unknown = sorted(set(stage) - set(STAGES))
    if unknown:
        raise typer.BadParameter(f"unknown stage {', '.join(unknown)}; known: {', '.join(STAGES)}",
                                 param_hint="--stage")
    known = default_registry().datasets
    if bad := sorted(set(dataset) - set(known)):
        raise typer.BadParameter(f"unknown dataset {', '.join(bad)}; known: {', '.join(known)}",
                                 param_hint="--dataset")
    # a process per core: normalise, fan-out and the sink each take a core's worth when busy
    busy = len({name for name in stage if name in OWN_PROCESS}) or 1
    copies = processes or max(1, (os.cpu_count() or 1) // busy)
    specs = [(StageSpec.of(name, settings, dataset, batch or None), 1 if name in SINGLE_COPY else copies)
             for name in dict.fromkeys(stage)]
    failures = Worker(settings, specs).run(loglevel=os.environ.get("POBI_LOG_LEVEL", "warn").lower()[:4])
    if failures:
        raise PobiError(f"the worker stopped because a stage failed: {failures[0]}")
