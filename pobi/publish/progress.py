"""The progress bar of a long `pobi publish`: bytes read, and beside them what became of the records so far."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn, TransferSpeedColumn

__all__ = ["PublishProgress"]


class PublishProgress:
    """A no-op unless ``enabled`` (a terminal, and an input large enough to wait for)."""

    def __init__(self, label: str, size: int, counts: Callable[[], tuple[int, int]], *, enabled: bool) -> None:
        """``counts``: (sent, rejected) so far."""
        self._label, self._size, self._counts, self._enabled = label, size, counts, enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> PublishProgress:
        if self._enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                TextColumn("sent {task.fields[sent]:,}  rejected {task.fields[rejected]:,}"), transient=True)
            self._task = self._progress.add_task(f"publishing {self._label}", total=self._size, sent=0,
                                                 rejected=0)
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def lines(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        if self._progress is None or self._task is None:
            yield from lines
            return
        progress, task = self._progress, self._task
        for count, raw in enumerate(lines):
            if count % 512 == 0:  # rich redraws ten times a second; the counts need not change more often
                sent, rejected = self._counts()
                progress.update(task, sent=sent, rejected=rejected)
            progress.advance(task, len(raw))
            yield raw
