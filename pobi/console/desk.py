"""The operator's desk behind the console: each stage's consumer lag now, and replaying the dead letters of one
stage and reason, a dry run first (the same rule as `pobi dlq replay`: ``pobi.dlq.plan_replay``)."""

from __future__ import annotations

from typing import Any

from foundation.errors import PobiError
from foundation.settings import Settings
from pobi.dlq import read_dead_letters, replay
from topics.dead_letters import DLQ_STAGES

__all__ = ["ReplayDesk"]


class ReplayDesk:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def lag(self) -> dict[str, Any]:
        """Per stage, the records on its topics that its consumer group has not yet committed past."""
        from schemas.registry import default_registry
        from sinks.clickhouse.stage import SinkStage
        from topics.admin import group_progress

        topics, datasets = self._settings.topics, default_registry().datasets
        reads = {"normalize": [topics.ingest(d) for d in datasets], "fanout": [topics.norm(d) for d in datasets],
                 "sink": SinkStage.topics_for(self._settings)}
        lags = {}
        for stage, names in reads.items():
            progress = group_progress(self._settings, topics.group(stage), names)
            lags[stage] = sum(max(0, written - done) for written, done in progress.values())
        return {"lag": lags}

    def replay(self, stage: str, reason: str, *, dry_run: bool) -> dict[str, Any]:
        if stage not in DLQ_STAGES:
            raise PobiError(f"no stage {stage!r}; stages: {', '.join(DLQ_STAGES)}")
        if not reason:
            raise PobiError("a reason is required: the letters to replay are chosen by it")
        letters = list(read_dead_letters(self._settings, stage, reason))
        report = replay(self._settings, letters, dry_run=dry_run)
        return {"stage": stage, "reason": reason, "dry_run": dry_run, "letters": len(letters),
                "replayed": report.replayed, "skipped": report.skipped}
