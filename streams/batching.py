"""When a stage's batch closes: on its size, or a short while after its first record — a while that adapts to
load. Pure; the runner asks it how long to wait and tells it how long each batch took.

A fixed window holds a lone record for the whole window at low load (the sink's second was most of an event's
way to ClickHouse). Here a batch waits, after its first record, a quarter of the time the previous batch took
to handle, within the stage's bounds: idle, a record waits only the floor; busy, batches grow until their
fixed costs (a transaction, a Redis round trip, an insert) are a small share of their work. Batches stay
bounded by size, and the wait by the ceiling; the share keeps it stable below ~80 % load (the wait a batch
adds is a quarter of the work it saves nothing on).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BatchWait", "BatchWindow"]


@dataclass(frozen=True)
class BatchWait:
    """A stage's bounds on how long a batch may wait after its first record, in seconds."""

    floor_s: float
    ceiling_s: float

    def __post_init__(self) -> None:
        if not 0 <= self.floor_s <= self.ceiling_s:
            raise ValueError(f"a batch wait needs 0 <= floor <= ceiling, not {self.floor_s}, {self.ceiling_s}")


class BatchWindow:
    SHARE = 0.25  # of the last batch's handling time

    def __init__(self, bounds: BatchWait) -> None:
        self.bounds = bounds
        self.wait_s = bounds.floor_s

    def handled(self, seconds: float) -> None:
        """The last batch took ``seconds`` to handle: the next one may wait a share of that."""
        self.wait_s = min(self.bounds.ceiling_s, max(self.bounds.floor_s, seconds * self.SHARE))
