"""The worker pool: threads that take queued jobs from the store and paint them through the job layer.

Each worker thread keeps its own few loaded painters (model or style images
loaded once per method and settings), so a run of jobs with the same model
pays the load once and no painter is ever shared between threads. A job's
cancel is its own :class:`threading.Event`, set only for that id.

Progress goes three ways: the latest event stays in memory (the live
preview is encoded from it only when a client asks), the job's progress
column, and an event row for the SSE stream, at most :data:`EVENT_INTERVAL`
apart so a fast optimization does not write thousands of rows.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from ..progress import Progress
from .requests import build_config, cache_key
from .store import FINAL, Job, JobStore

log = logging.getLogger("painterly.service")

#: Seconds between progress rows of one job (the last event is always written).
EVENT_INTERVAL = 0.25
#: Painters kept loaded per worker thread.
PAINTERS_PER_WORKER = 3
#: Name of the result file in a job's folder.
RESULT_NAME = "result.png"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class WorkerPool:
    """``workers`` threads painting queued jobs.

    Args:
        store: the job store.
        workers: jobs painted at the same time.
        threads: CPU threads per job (0: the library's default).
        notify: called with a job id after each event row (wakes SSE streams); any thread.
    """

    def __init__(self, store: JobStore, workers: int = 1, threads: int = 0,
                 notify: Optional[Callable[[str], None]] = None) -> None:
        self.store = store
        self.workers = max(1, int(workers))
        self.threads = threads
        self.notify = notify or (lambda job_id: None)
        self.live: Dict[str, Progress] = {}
        self._cancels: Dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []

    # -- life ----------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads (after :meth:`JobStore.recover`)."""
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"painterly-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs, cancel the running ones and wait for the threads.

        A job cancelled by shutdown is put back in the queue by the next
        start (:meth:`JobStore.recover`), not marked cancelled: the user did
        not ask for that.
        """
        self._stop.set()
        with self._lock:
            for event in self._cancels.values():
                event.set()
        self.wake()
        for t in self._threads:
            t.join(timeout)

    def wake(self) -> None:
        """A job was queued: let an idle worker look."""
        with self._wake:
            self._wake.notify_all()

    def cancel(self, job_id: str) -> Optional[str]:
        """Cancel one job by id (a queued one at once, a running one within an iteration or tile).

        Returns:
            The status after the call, None for an unknown id.
        """
        status = self.store.cancel(job_id)
        if status == "running":
            with self._lock:
                event = self._cancels.get(job_id)
            if event is not None:
                event.set()
        if status is not None:
            self.notify(job_id)
        return status

    def running(self) -> List[str]:
        """Ids of the jobs being painted now."""
        with self._lock:
            return list(self._cancels)

    # -- work ----------------------------------------------------------------

    def _loop(self) -> None:
        painters: "OrderedDict[str, Any]" = OrderedDict()
        while not self._stop.is_set():
            try:
                job = self.store.claim()
            except Exception:  # noqa: BLE001 - a locked or full disk must not kill the worker
                log.exception("cannot take a job from the queue")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(1.0)
                continue
            self.notify(job.id)
            try:
                self._run(job, painters)
            except Exception as exc:  # noqa: BLE001 - never lose a worker to one job
                log.error("job %s failed:\n%s", job.id, traceback.format_exc())
                try:
                    self._finish(job.id, "failed", error=f"internal error: {type(exc).__name__}: {exc}")
                except Exception:  # noqa: BLE001 - the store itself failed; the next start re-queues it
                    log.exception("cannot record the failure of job %s", job.id)
            finally:
                with self._lock:
                    self._cancels.pop(job.id, None)
                self.live.pop(job.id, None)
        self.store.close()

    def _finish(self, job_id: str, status: str, **kwargs: Any) -> None:
        if self._stop.is_set() and status == "cancelled" and not self._user_cancelled(job_id):
            return  # shutdown: leave it 'running' so the next start re-queues it
        self.store.finish(job_id, status, **kwargs)
        self.notify(job_id)

    def _user_cancelled(self, job_id: str) -> bool:
        job = self.store.get(job_id)
        return bool(job and job.cancel_requested)

    def _painter(self, job: Job, painters: "OrderedDict[str, Any]", styles: List[Path]) -> Any:
        from ..jobs.painters import make_painter

        digests = tuple(_digest(p) for p in styles)
        key = cache_key(job.method, job.config, digests)
        painter = painters.get(key)
        if painter is None:
            cfg = build_config(job.method, job.config, self.threads)
            painter = make_painter(job.method, cfg, styles=[str(p) for p in styles])
            painters[key] = painter
            while len(painters) > PAINTERS_PER_WORKER:
                painters.popitem(last=False)
        painters.move_to_end(key)
        return painter

    def _run(self, job: Job, painters: "OrderedDict[str, Any]") -> None:
        from ..errors import PainterlyError
        from ..jobs.run import paint_one

        cancel = threading.Event()
        with self._lock:
            self._cancels[job.id] = cancel
        fresh = self.store.get(job.id)
        if fresh is None or fresh.status in FINAL:  # deleted or cancelled between claim and here
            return
        if fresh.cancel_requested:
            cancel.set()
        folder = self.store.job_dir(job.id)
        content = folder / job.files["content"]
        styles = [folder / name for name in job.files.get("styles", [])]
        start = time.perf_counter()
        try:
            painter = self._painter(job, painters, styles)
        except PainterlyError as exc:
            self._finish(job.id, "failed", error=f"cannot load the {job.method} painter: {_one_line(exc)}",
                         seconds=time.perf_counter() - start)
            return
        last = [0.0]

        def on_progress(event: Progress) -> None:
            if event.kind == "job":
                return
            self.live[job.id] = event
            now = time.monotonic()
            if now - last[0] >= EVENT_INTERVAL or event.step >= event.total:
                last[0] = now
                try:
                    self.store.progress(job.id, event.fraction, event.to_dict())
                except Exception:  # noqa: BLE001 - a missed progress row must not stop the painting
                    log.exception("cannot record progress of job %s", job.id)
                self.notify(job.id)

        item = paint_one(painter, content, folder / RESULT_NAME, on_progress=on_progress, cancel=cancel)
        result = Path(item.output).name if item.output else ""
        self._finish(job.id, item.status if item.status in FINAL else "failed", error=item.error,
                     seconds=item.seconds, result=result, size=item.size, detail=item.detail)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


__all__ = ["EVENT_INTERVAL", "RESULT_NAME", "WorkerPool"]
