"""What `pobi worker` runs, pure: a spec carries the settings into a child process unchanged, names only the
stages the worker knows, and builds each of them without touching the network."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from foundation.settings import load_settings
from pobi.worker import SINGLE_COPY, STAGES
from pobi.worker.spec import StageSpec
from streams.runner import StageError


def test_a_spec_crosses_into_a_child_process_with_its_settings(tmp_path: Path) -> None:
    settings = load_settings(stack_dir=tmp_path, namespace="t1", worker_batch=77)
    spec = pickle.loads(pickle.dumps(StageSpec.of("normalize", settings, ["person"], 123)))
    runner = spec.build()
    assert (runner.batch_size, runner.group) == (123, "t1.pobi-normalize")
    assert runner.stage.topics() == ["t1.ingest.person"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_the_worker_names_can_be_built_without_io(tmp_path: Path, stage: str) -> None:
    settings = load_settings(stack_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", redis_port=1, clickhouse_port=1)
    runner = StageSpec.of(stage, settings).build()
    assert runner.stage.name == stage and runner.stage.topics()
    assert set(SINGLE_COPY) <= set(STAGES)


def test_an_unknown_stage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="unknown stage 'later'"):
        StageSpec.of("later", load_settings(stack_dir=tmp_path)).build()
