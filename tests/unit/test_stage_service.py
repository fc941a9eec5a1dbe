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

    def stage(_spec: object, _copies: int, stop: threading.Event) -> None:
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
    monkeypatch.setattr(app, "run_copies", lambda *_args: time.sleep(30))  # waiting out an unreachable Redis
    monkeypatch.setattr(app, "STOP_GRACE_S", 0.5)

    async def scenario() -> float:
        s = service(tmp_path)
        await s.on_start()
        started = time.monotonic()
        await s.on_stop()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 3


def test_a_stage_that_fails_is_the_service_s_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*_args: object) -> None:
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
