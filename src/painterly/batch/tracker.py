"""Bookkeeping shared by the local pool and the Ray runner: queue, attempts, manifest, progress.

A runner asks the :class:`Tracker` for the next task, says which worker took
it, forwards the worker's progress, and hands back each result, or the news
that the worker died holding the task. The tracker appends every outcome to
the manifest at once, puts a lost task back at the front of the queue while
it has attempts left, and reports :class:`BatchProgress` events.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ..progress import OptionalCallback, Progress
from .manifest import Manifest
from .plan import BatchTask


@dataclass(frozen=True)
class BatchProgress(Progress):
    """A :class:`~painterly.progress.Progress` event (``kind="batch"``) over a whole batch.

    ``step`` counts finished images (done, failed or cancelled) of ``total``
    to paint in this run; ``rate`` is images per second (finished images plus
    the fractions of the running ones, over the wall time so far).

    Attributes:
        done: images painted.
        failed: images recorded as failed.
        cancelled: images stopped by a cancel.
        skipped: images skipped as done by an earlier run (``resume``; not in ``total``).
        retried: tasks put back after their worker died.
        running: ``(worker, input, fraction)`` of each image being painted.
        workers: workers started.
    """

    done: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    retried: int = 0
    running: Tuple[Tuple[str, str, float], ...] = ()
    workers: int = 0

    @property
    def fraction(self) -> float:  # type: ignore[override]
        """Share of the batch done, 0..1, counting the running images' progress."""
        if self.total <= 0:
            return 1.0
        partial = sum(r[2] for r in self.running)
        return min(1.0, (self.step + partial) / self.total)

    @property
    def eta(self) -> Optional[float]:  # type: ignore[override]
        """Seconds left at the current rate; None before the rate is known."""
        if self.rate <= 0:
            return None
        return max(0.0, self.total * (1 - self.fraction) / self.rate)

    def to_dict(self) -> dict:
        """JSON-ready fields, with the batch counts."""
        data = super().to_dict()
        data.update(
            done=self.done, failed=self.failed, cancelled=self.cancelled, skipped=self.skipped,
            retried=self.retried, workers=self.workers, rate=round(self.rate, 4),
            running=[{"worker": w, "input": i, "fraction": round(f, 3)} for w, i, f in self.running],
        )
        return data


@dataclass
class _Running:
    task: BatchTask
    worker: str
    fraction: float = 0.0


class Tracker:
    """The state of one batch run (see the module docstring).

    Args:
        tasks: the tasks to paint in this run, in order.
        manifest: where each outcome is appended.
        retries: how often a task whose worker died goes back in the queue.
        skipped: images skipped as already done (for the counts).
        on_progress: receives :class:`BatchProgress` events.
        interval: least seconds between two progress events (results always report).
    """

    def __init__(
        self,
        tasks: List[BatchTask],
        manifest: Manifest,
        *,
        retries: int = 2,
        skipped: int = 0,
        on_progress: OptionalCallback = None,
        interval: float = 0.25,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.tasks = list(tasks)
        self.manifest = manifest
        self.retries = retries
        self.skipped = skipped
        self.on_progress = on_progress
        self.interval = interval
        self.clock = clock
        self.start = clock()
        self.pending: Deque[BatchTask] = deque(self.tasks)
        self.attempts: Dict[int, int] = {}
        self.running: Dict[int, _Running] = {}
        self.results: Dict[int, Dict[str, Any]] = {}
        self.counts = {"done": 0, "failed": 0, "cancelled": 0}
        self.retried = 0
        self.workers = 0
        self.painter = ""
        self.first_start: Optional[float] = None  # seconds from the start to the first image handed out
        self._last_emit = -math.inf

    # -- queue ----------------------------------------------------------------

    def next_task(self) -> Optional[BatchTask]:
        """The next task to hand to an idle worker, or None."""
        return self.pending.popleft() if self.pending else None

    def started(self, task: BatchTask, worker: str) -> None:
        """``worker`` took ``task``."""
        self.attempts[task.index] = self.attempts.get(task.index, 0) + 1
        if self.first_start is None:
            self.first_start = self.clock() - self.start
        self.running[task.index] = _Running(task, worker)
        self.emit(force=True)

    def progress(self, index: int, fraction: float) -> None:
        """The running task ``index`` is ``fraction`` (0..1) done."""
        run = self.running.get(index)
        if run is not None and math.isfinite(fraction):
            run.fraction = min(1.0, max(0.0, fraction))
            self.emit()

    def finished(self, task: BatchTask, result: Dict[str, Any]) -> None:
        """Record ``task``'s result (a :func:`~painterly.batch.worker.paint_task` dict) in the manifest."""
        run = self.running.pop(task.index, None)
        status = str(result.get("status", "failed"))
        record = {
            "input": task.input,
            "output": result.get("output") if status in ("done", "cancelled") else None,
            "status": status,
            "seconds": round(float(result.get("seconds", 0.0)), 4),
            "worker": result.get("worker") or (run.worker if run else ""),
            "error": result.get("error", ""),
            "attempts": self.attempts.get(task.index, 1),
            "size": list(result.get("size") or (0, 0)),
            "detail": result.get("detail", ""),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if result.get("iterations"):
            record["iterations"] = result["iterations"]
            record["losses"] = result.get("losses") or {}
        self.manifest.write(record)
        self.results[task.index] = record
        self.counts[status if status in self.counts else "failed"] += 1
        self.emit(force=True)

    def lost(self, task: BatchTask, worker: str, reason: str) -> bool:
        """``worker`` died holding ``task``: queue it again if it has attempts left, else record it failed.

        Returns:
            True when the task was queued again.
        """
        self.running.pop(task.index, None)
        attempts = self.attempts.get(task.index, 1)
        if attempts <= self.retries:
            self.manifest.write({
                "input": task.input, "output": None, "status": "retried", "seconds": 0.0, "worker": worker,
                "error": reason, "attempts": attempts, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            })
            self.retried += 1
            self.pending.appendleft(task)
            self.emit(force=True)
            return True
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        self.finished(task, {"status": "failed", "worker": worker, "error": f"{reason}; gave up after {tries}"})
        return False

    # -- progress -------------------------------------------------------------

    def event(self) -> BatchProgress:
        """The batch's state now."""
        elapsed = self.clock() - self.start
        finished = sum(self.counts.values())
        partial = sum(r.fraction for r in self.running.values())
        rate = (finished + partial) / elapsed if elapsed > 0 and finished + partial > 0 else 0.0
        return BatchProgress(
            step=finished, total=len(self.tasks), elapsed=elapsed, kind="batch", rate=rate,
            done=self.counts["done"], failed=self.counts["failed"], cancelled=self.counts["cancelled"],
            skipped=self.skipped, retried=self.retried, workers=self.workers,
            running=tuple((r.worker, r.task.input, r.fraction) for r in self.running.values()),
        )

    def emit(self, force: bool = False) -> None:
        """Send a progress event (at most one per ``interval`` unless ``force``)."""
        if self.on_progress is None or (self.first_start is None and not force):
            return  # nothing to show while the workers start
        now = self.clock()
        if not force and now - self._last_emit < self.interval:
            return
        self._last_emit = now
        self.on_progress(self.event())


__all__ = ["BatchProgress", "Tracker"]
