"""The local runner: a pool of spawned worker processes, each holding one loaded painter.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: when one of its
workers dies (SIGKILL, the OOM killer) the whole pool breaks and every
pending future fails. Here each worker has its own pipe and holds one task
at a time, so the driver knows exactly which image a dead worker had: that
image goes back in the queue (up to ``retries`` times) and a fresh worker
takes the dead one's place.

Workers are *spawned*, not forked: a fork of a process with torch's or
onnxruntime's thread pools running can deadlock, and a spawned worker
sets its thread limits before it imports them. (As with any spawning code,
a script that calls the batch must guard its entry point with
``if __name__ == "__main__":``.)
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, List, Optional

from ..errors import PainterlyError
from ..progress import OptionalCancel, is_cancelled
from .plan import BatchTask
from ..cores import usable_cores
from .tracker import Tracker
from .worker import WorkerSetup

#: Seconds a worker gets to leave after the driver says stop, before it is terminated.
STOP_GRACE = 3.0


def pool_shape(tasks: int, workers: int = 0, threads: int = 0, cores: int = 0) -> tuple:
    """``(workers, threads)`` for a local pool so that workers x threads = cores.

    One worker per core by default (whole images in parallel scale better than
    threads within one image), at most 8 (each holds a model in memory) and no
    more than there are images; ``threads`` then divides the cores among them.
    """
    cores = cores or usable_cores()
    if workers <= 0:
        workers = max(1, cores // threads) if threads > 0 else min(cores, 8)
    workers = max(1, min(workers, max(tasks, 1)))
    if threads <= 0:
        threads = max(1, cores // workers)
    return workers, threads


class _Cancel:
    """The worker's cancel event: the driver's stop event, or the driver gone (SIGKILLed)."""

    def __init__(self, stop: Any, parent: int) -> None:
        self.stop, self.parent = stop, parent

    def is_set(self) -> bool:
        return bool(self.stop.is_set()) or os.getppid() != self.parent


def _worker_main(conn: Connection, setup: WorkerSetup, stop: Any, parent: int) -> None:
    """A pool worker: load the painter once, then paint the tasks the driver sends until ``None``."""
    # Ctrl-C goes to the whole terminal process group; the driver decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .worker import load_painter, paint_task, worker_name

    try:
        painter = load_painter(setup)
    except PainterlyError as exc:
        conn.send(("error", type(exc).__name__, str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which raises it
        conn.send(("error", "PainterlyError", f"a worker cannot load the painter: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", worker_name(), painter.name))
    cancel = _Cancel(stop, parent)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the driver is gone
            return
        if task is None:
            return
        last = [0.0]

        def on_progress(event: Any, _index: int = task.index) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.5:
                last[0] = now
                conn.send(("progress", _index, event.fraction))

        result = paint_task(painter, task, setup, on_progress=on_progress, cancel=cancel)
        try:
            conn.send(("result", task.index, result))
        except (OSError, ValueError):
            return


def _rebuild_error(name: str, message: str) -> PainterlyError:
    """The worker's PainterlyError, by class name, in the driver."""
    from .. import errors

    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, PainterlyError)):
        cls = PainterlyError
    try:
        return cls(message)
    except TypeError:
        return PainterlyError(message)


def _death(exitcode: Optional[int], name: str) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            sig = signal.Signals(-exitcode).name
        except ValueError:
            sig = f"signal {-exitcode}"
        hint = " (out of memory?)" if sig == "SIGKILL" else ""
        return f"worker {name} was killed by {sig}{hint}"
    return f"worker {name} died (exit code {exitcode})"


@dataclass
class _Worker:
    process: Any
    conn: Connection
    name: str = ""
    ready: bool = False
    task: Optional[BatchTask] = None


class LocalPool:
    """Run a batch on this machine (see the module docstring).

    Args:
        setup: what each worker loads.
        workers: worker processes.
        threads: CPU threads per worker (``setup.threads`` is set from it).
    """

    def __init__(self, setup: WorkerSetup, workers: int, threads: int) -> None:
        import dataclasses

        self.setup = dataclasses.replace(setup, threads=threads)
        self.workers = workers
        self.threads = threads
        self.description = f"local pool, {workers} worker{'s' if workers != 1 else ''} x {threads} thread{'s' if threads != 1 else ''}"

    def run(self, tracker: Tracker, cancel: OptionalCancel = None) -> bool:
        """Paint the tracker's tasks; return True when ``cancel`` stopped the batch.

        Raises:
            PainterlyError: the workers cannot load the painter (a bad model or
                style image), or keep dying before they are ready.
        """
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        pool: List[_Worker] = []
        load_deaths = 0
        stopping = False

        def spawn() -> None:
            ours, theirs = ctx.Pipe(duplex=True)
            process = ctx.Process(target=_worker_main, args=(theirs, self.setup, stop, os.getpid()),
                                  name="painterly-batch-worker", daemon=True)
            process.start()
            theirs.close()
            pool.append(_Worker(process, ours))
            tracker.workers += 1

        def bury(worker: _Worker) -> None:
            nonlocal load_deaths
            worker.process.join(1.0)
            pool.remove(worker)
            worker.conn.close()
            name = worker.name or f"pid {worker.process.pid}"
            reason = _death(worker.process.exitcode, name)
            if worker.task is not None:
                tracker.lost(worker.task, name, reason)
            elif not worker.ready:
                load_deaths += 1
                if load_deaths > self.workers + tracker.retries:
                    raise PainterlyError(f"workers keep dying while loading the painter: {reason}")
            if not stopping and len(pool) < min(self.workers, len(tracker.pending) + len(tracker.running)):
                spawn()

        def handle(worker: _Worker, message: Any) -> None:
            kind = message[0]
            if kind == "ready":
                worker.ready, worker.name = True, message[1]
                tracker.painter = tracker.painter or message[2]
            elif kind == "error":
                raise _rebuild_error(message[1], message[2])
            elif kind == "progress" and worker.task is not None and worker.task.index == message[1]:
                tracker.progress(message[1], message[2])
            elif kind == "result" and worker.task is not None and worker.task.index == message[1]:
                task, worker.task = worker.task, None
                tracker.finished(task, message[2])

        try:
            for _ in range(min(self.workers, len(tracker.pending))):
                spawn()
            while True:
                if not stopping and is_cancelled(cancel):
                    stopping = True
                    stop.set()  # running images stop at their next tile or iteration
                if not stopping:
                    for worker in pool:
                        if worker.ready and worker.task is None and tracker.pending:
                            task = tracker.next_task()
                            assert task is not None
                            worker.task = task
                            try:
                                worker.conn.send(task)
                            except (OSError, ValueError):
                                pass  # it died: its sentinel says so below, and the task goes back
                            tracker.started(task, worker.name)
                if not tracker.running and (stopping or not tracker.pending):
                    break
                if not pool:
                    raise PainterlyError("no batch worker is left running")
                ready = set(wait([w.conn for w in pool] + [w.process.sentinel for w in pool], timeout=0.2))
                for worker in list(pool):
                    alive = True
                    if worker.conn in ready or worker.process.sentinel in ready:
                        try:
                            while worker.conn.poll():
                                handle(worker, worker.conn.recv())
                        except (EOFError, OSError):
                            alive = False
                    if not alive or worker.process.sentinel in ready:
                        bury(worker)
                tracker.emit()
        finally:
            self._shutdown(pool, stop)
        return stopping

    @staticmethod
    def _shutdown(pool: List[_Worker], stop: Any) -> None:
        """Tell the workers to leave; terminate the ones that do not within :data:`STOP_GRACE`."""
        for worker in pool:
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
        if any(w.task is not None for w in pool):
            stop.set()  # leaving early (an error, a second Ctrl-C): stop running images too
        deadline = time.monotonic() + STOP_GRACE
        for worker in pool:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(1.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1.0)
            worker.conn.close()


__all__ = ["LocalPool", "pool_shape"]
