"""The worker's stage service, with the stage's work replaced: stopping asks the stage to finish its batch,
waits for it, and gives up after the grace period instead of hanging; a stage that fails is the service's
failure, for the worker to exit non-zero."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from foundation.settings import load_settings
from pobi.worker import app
from pobi.worker.spec import StageSpec


def service(tmp_path: Path) -> app.StageService:
    return app.StageService(StageSpec.of("normalize", load_settings(stack_dir=tmp_path)), 1, loop=None)


def test_stop_waits_for_a_stage_that_finishes_its_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    finished = threading.Event()

    def stage(_spec: object, _copies: int, stop: threading.Event, **_options: object) -> None:
        stop.wait(5)
        finished.set()

    monkeypatch.setattr(app, "run_copies", stage)

    async def scenario() -> None:
        s = service(tmp_path)
        await s.on_start()
        await s.on_stop()

    asyncio.run(scenario())
    assert finished.is_set()


def test_stop_gives_up_on_a_stage_that_does_not_look_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "run_copies", lambda *_args, **_kw: time.sleep(30))  # waiting out an unreachable Redis
    monkeypatch.setattr(app, "STOP_GRACE_S", 0.5)

    async def scenario() -> float:
        s = service(tmp_path)
        await s.on_start()
        started = time.monotonic()
        await s.on_stop()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 3


def test_a_stage_that_fails_is_the_service_s_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*_args: object, **_options: object) -> None:
        raise RuntimeError("Kafka refused 1 records")

    monkeypatch.setattr(app, "run_copies", failing)

    async def scenario() -> BaseException | None:
        s = service(tmp_path)
        s.crash = lambda _exc: asyncio.sleep(0)  # type: ignore[method-assign,assignment,return-value]
        await s.on_start()
        await s.on_stop()
        return s.failure

    failure = asyncio.run(scenario())
    assert isinstance(failure, RuntimeError) and "Kafka refused" in str(failure)


def test_busy_stages_beside_each_other_get_a_process_each(tmp_path: Path) -> None:
    """Beside another busy stage, even one copy runs in its own process (its own interpreter lock); alone, or
    waiting on a service (CDC, webhook), on a thread of the worker."""
    settings = load_settings(stack_dir=tmp_path, api_port=0)
    specs = [(StageSpec.of(name, settings), 1) for name in ("cdc", "normalize", "fanout", "webhook", "sink")]
    worker = app.Worker(settings, specs)
    assert {s.spec.stage: s.own_process for s in worker.services} == {
        "cdc": False, "normalize": True, "fanout": True, "webhook": False, "sink": True}
    alone = app.Worker(settings, [(StageSpec.of("sink", settings), 1)])
    assert [s.own_process for s in alone.services] == [False]
