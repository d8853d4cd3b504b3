"""The Ray runner: the same batch on a Ray cluster (``painterly batch --ray``).

Why actors and tasks rather than Ray Data's ``map_batches``: the painters are
one image in, one file out, and the batch must account for every image
itself (a manifest line per result as it arrives, ``resume``, a bad image
recorded and the rest going on, a task whose worker died retried a set
number of times, Ctrl-C that stops running optimizations with their best
image). Ray Data would add a streaming executor, pyarrow blocks and its own
retry and error policies between us and those results, for no gain: the
images never pass through the driver either way.

* One-pass methods (``stylize``, ``arbitrary``): a pool of actors, each
  loading the model once (Ray's batch-inference pattern), fed one task at a
  time so the driver knows which image each actor holds; an actor that dies
  is replaced and its image queued again.
* Optimization (``transfer``, tens of seconds an image): one Ray task per
  image with the CPU threads from the cluster's resources (all of them
  shared among the images, at most one node's worth per image), and
  ``resources`` for GPUs. A worker process keeps its loaded painter for the
  next task with the same settings.

Workers read and write the images themselves (paths on a shared file system,
or URIs); only names and small result records travel. A small control actor
(0 CPUs) carries the cancel flag to the workers and their progress back.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional, Tuple

from ..errors import PainterlyError, UsageError, require
from ..progress import OptionalCancel, is_cancelled
from .plan import BatchTask
from .tracker import Tracker
from .worker import WorkerSetup

#: Seconds between two progress polls of the control actor.
POLL = 0.5


def _ray() -> Any:
    # Ray refuses multi-node clusters on macOS/Windows unless told; 0 keeps its default and quiets it.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    return require("ray", "cluster")


class BatchControl:
    """The 0-CPU actor between the driver and the workers: cancel flag out, progress in."""

    def __init__(self) -> None:
        self.cancelled = False
        self.fractions: Dict[int, float] = {}

    def cancel(self) -> None:
        self.cancelled = True

    def report(self, index: int, fraction: float) -> bool:
        self.fractions[index] = fraction
        return self.cancelled

    def snapshot(self) -> Dict[int, float]:
        out, self.fractions = self.fractions, {}
        return out


class _RemoteCancel:
    """A worker's cancel event: asks the control actor at most every :data:`POLL` s, reporting progress."""

    def __init__(self, control: Any, index: int) -> None:
        self.control, self.index = control, index
        self.fraction = 0.0
        self.flag = False
        self.last = time.monotonic()  # the driver starts no task after a cancel: no need to ask at once

    def on_progress(self, event: Any) -> None:
        self.fraction = event.fraction

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self.flag and now - self.last >= POLL:
            import ray

            self.last = now
            try:
                self.flag = bool(ray.get(self.control.report.remote(self.index, self.fraction), timeout=10))
            except Exception:  # noqa: BLE001 - the driver is gone: stop
                self.flag = True
        return self.flag


def _load(setup: WorkerSetup) -> Tuple[Any, Optional[Tuple[str, str]]]:
    """``(painter, None)`` or ``(None, (error class, message))``."""
    from .worker import load_painter

    try:
        return load_painter(setup), None
    except PainterlyError as exc:
        return None, (type(exc).__name__, str(exc))
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which raises it
        return None, ("PainterlyError", f"a worker cannot load the painter: {type(exc).__name__}: {exc}")


def _load_failed(task: BatchTask, error: Tuple[str, str]) -> Dict[str, Any]:
    from .worker import worker_name

    return {"input": task.input, "output": None, "status": "failed", "error": error[1], "load_error": list(error),
            "worker": worker_name(), "seconds": 0.0}


class PainterActor:
    """A Ray actor holding one loaded painter (one-pass methods)."""

    def __init__(self, setup: WorkerSetup) -> None:
        self.setup = setup
        self.painter, self.error = _load(setup)

    def ready(self) -> Tuple[str, str, str]:
        """``("ready", host:pid, painter name)`` or ``("error", class, message)``."""
        from .worker import worker_name

        if self.error:
            return ("error", self.error[0], self.error[1])
        return ("ready", worker_name(), self.painter.name)

    def paint(self, task: BatchTask, control: Any) -> Dict[str, Any]:
        from .worker import paint_task

        if self.painter is None:
            return _load_failed(task, self.error or ("PainterlyError", "no painter"))
        cancel = _RemoteCancel(control, task.index)
        return paint_task(self.painter, task, self.setup, on_progress=cancel.on_progress, cancel=cancel)


#: The painter a Ray worker process loaded for the previous transfer task (settings, painter).
_CACHED: Dict[str, Any] = {}


def paint_remote(setup: WorkerSetup, task: BatchTask, control: Any) -> Dict[str, Any]:
    """A Ray task painting one image (optimization); reuses the process's painter when the settings match."""
    from .worker import limit_threads, paint_task

    if _CACHED.get("setup") == setup:
        painter = _CACHED["painter"]
        limit_threads(setup.threads)
    else:
        _CACHED.clear()
        painter, error = _load(setup)
        if painter is None:
            return _load_failed(task, error or ("PainterlyError", "no painter"))
        _CACHED.update(setup=setup, painter=painter)
    cancel = _RemoteCancel(control, task.index)
    return paint_task(painter, task, setup, on_progress=cancel.on_progress, cancel=cancel)


def _rebuild_error(name: str, message: str) -> PainterlyError:
    from .pool import _rebuild_error as rebuild

    return rebuild(name, message)


class RayRunner:
    """Run a batch on Ray (see the module docstring).

    Args:
        setup: what each worker loads.
        address: ``auto`` (the running cluster), ``local`` (start Ray in this
            process), ``HOST:PORT`` or ``ray://HOST:PORT`` (Ray Client).
        workers: actors (one-pass) or concurrent tasks (transfer); 0: from the cluster's CPUs (or GPUs).
        resources: Ray options of each worker (``num_gpus``, ``num_cpus``, ``memory``, ``resources``).
        tasks: images to paint (caps the workers).
    """

    def __init__(self, setup: Optional[WorkerSetup], address: str, *, workers: int = 0,
                 resources: Optional[Dict[str, Any]] = None, tasks: int = 0) -> None:
        self.setup = setup
        self.address = address or "auto"
        self.workers = workers
        self.resources = dict(resources or {})
        self.tasks = tasks
        self.description = f"ray {self.address}"
        self._owned = False

    # -- cluster ----------------------------------------------------------------

    def connect(self) -> None:
        """Import Ray and join the cluster (start one with ``local``), unless this process already has.

        Raises:
            MissingDependencyError: Ray is not installed.
            PainterlyError: no cluster answers at the address.
        """
        ray = _ray()
        if ray.is_initialized():
            return
        options: Dict[str, Any] = dict(logging_level="ERROR", log_to_driver=False, configure_logging=True)
        try:
            if self.address == "local":
                ray.init(include_dashboard=False, **options)
            else:
                ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            hint = ("start one with 'ray start --head' or use --ray local" if self.address == "auto"
                    else "check the address (HOST:6379, or ray://HOST:10001 for Ray Client)")
            raise PainterlyError(
                f"cannot connect to the Ray cluster at {self.address}: {' '.join(str(exc).split())[:300]}; {hint}"
            ) from None
        self._owned = True

    def disconnect(self) -> None:
        """Leave the cluster if :meth:`connect` joined it (a Ray the caller started stays up)."""
        if self._owned:
            import ray

            ray.shutdown()
            self._owned = False

    def _shape(self, ray: Any) -> Tuple[int, int, Dict[str, Any]]:
        """``(workers, threads, ray options)`` from the cluster's resources."""
        total = ray.cluster_resources()
        cpus = float(total.get("CPU", 0) or 0)
        node_cpus = [float(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
        per_node = int(max(node_cpus or [cpus or 1]))
        res = dict(self.resources)
        gpus = float(res.get("num_gpus", 0) or 0)
        n_tasks = max(1, self.tasks)
        threads = self.setup.threads
        if threads <= 0 and float(res.get("num_cpus", 0) or 0) >= 1:
            threads = int(res["num_cpus"])  # the CPUs asked for are the threads used
        if self.setup.method == "transfer":
            if threads <= 0:  # share the cluster's CPUs among the images, at most one node each
                share = int(cpus // (self.workers or n_tasks)) if cpus else 1
                threads = max(1, min(per_node, share))
        elif threads <= 0:
            threads = max(1, min(per_node, int(cpus // self.workers))) if self.workers and cpus else 1
        res.setdefault("num_cpus", threads)
        wanted = {"CPU": float(res["num_cpus"]), "GPU": gpus, **res.get("resources", {})}
        for name, amount in wanted.items():
            have = float(per_node) if name == "CPU" else float(total.get(name, 0) or 0)  # a worker lives on one node
            if amount > have:
                # Ray would keep the worker pending forever; say so now.
                raise UsageError(
                    f"each worker asks for {amount:g} {name} but the Ray cluster has {have:g}"
                    + (" per node" if name == "CPU" else "")
                    + (" (set --threads or --resources '{\"num_cpus\": N}')" if name == "CPU" else
                       " (check --resources)")
                )
        if self.workers:
            workers = self.workers
        elif gpus > 0:
            workers = max(1, int(float(total.get("GPU", 0)) // gpus))
        elif float(res["num_cpus"]) > 0:
            workers = max(1, int(cpus // float(res["num_cpus"])))
        else:
            workers = max(1, int(cpus))
        return max(1, min(workers, n_tasks)), int(threads), res

    # -- run --------------------------------------------------------------------

    def run(self, tracker: Tracker, cancel: OptionalCancel = None) -> bool:
        """Paint the tracker's tasks on the cluster; return True when ``cancel`` stopped the batch.

        Raises:
            MissingDependencyError: Ray is not installed.
            PainterlyError: no cluster at the address; the workers cannot load
                the painter; Ray cannot place a worker with ``resources``.
        """
        import dataclasses

        ray = _ray()
        self.connect()
        actors: List[Any] = []
        refs: Dict[Any, Tuple[str, Optional[BatchTask], Any]] = {}
        control = None
        stopping = False
        try:
            n, threads, options = self._shape(ray)
            setup = dataclasses.replace(self.setup, threads=threads)
            one_pass = setup.method != "transfer"
            noun = "actor" if one_pass else "task"
            cpu = options.get("num_cpus", threads)
            self.description = (f"ray {self.address}, {n} {noun}{'s' if n != 1 else ''} x {cpu:g} CPU"
                                + (f" + {options['num_gpus']:g} GPU" if options.get("num_gpus") else ""))
            control = ray.remote(num_cpus=0)(BatchControl).remote()
            idle: List[Any] = []
            names: Dict[Any, str] = {}
            load_deaths = 0
            if one_pass:
                actor_class = ray.remote(PainterActor).options(max_restarts=0, max_task_retries=0, **options)

                def start_actor() -> None:
                    actor = actor_class.remote(setup)
                    actors.append(actor)
                    names[actor] = f"actor {len(actors)}"
                    refs[actor.ready.remote()] = ("ready", None, actor)
                    tracker.workers += 1

                for _ in range(n):
                    start_actor()
            else:
                task_fn = ray.remote(paint_remote).options(max_retries=0, **options)
            last_poll = time.monotonic()
            while True:
                if not stopping and is_cancelled(cancel):
                    stopping = True
                    control.cancel.remote()
                if not stopping:
                    if one_pass:
                        while idle and tracker.pending:
                            actor, task = idle.pop(0), tracker.next_task()
                            refs[actor.paint.remote(task, control)] = ("paint", task, actor)
                            tracker.started(task, names[actor])
                    else:
                        while tracker.pending and sum(1 for k in refs.values() if k[0] == "paint") < n:
                            task = tracker.next_task()
                            refs[task_fn.remote(setup, task, control)] = ("paint", task, None)
                            tracker.started(task, "ray task")
                            tracker.workers = max(tracker.workers, len(tracker.running))
                if not tracker.running and (stopping or not tracker.pending):
                    break
                if not refs:
                    raise PainterlyError("no Ray worker is left to paint the batch")
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.25)
                if ready:
                    rest = [r for r in refs if r not in ready]
                    if rest:
                        more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                        ready += more
                for ref in ready:
                    kind, task, actor = refs.pop(ref)
                    try:
                        value = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # our code raised: a bug, not a death
                        if task is None:
                            raise PainterlyError(f"a Ray worker failed to start: {str(exc).splitlines()[0]}") from None
                        value = {"status": "failed", "error": " ".join(str(exc).split())[:500]}
                    except ray.exceptions.RayError as exc:  # the worker or its node died
                        reason = self._death(exc, names.get(actor, "a Ray worker") if actor is not None else "a Ray task")
                        if actor is not None:
                            actors.remove(actor)
                            try:
                                ray.kill(actor, no_restart=True)
                            except Exception:  # noqa: BLE001 - already gone
                                pass
                        if task is not None:
                            tracker.lost(task, names.get(actor, "ray task"), reason)
                        else:
                            load_deaths += 1
                            if load_deaths > n + tracker.retries:
                                raise PainterlyError(f"Ray workers keep dying while loading the painter: {reason}")
                        if actor is not None and not stopping and tracker.pending:
                            start_actor()
                        continue
                    if kind == "ready":
                        if value[0] == "error":
                            raise _rebuild_error(value[1], value[2])
                        names[actor] = value[1]
                        tracker.painter = tracker.painter or value[2]
                        idle.append(actor)
                        continue
                    if value.get("load_error"):
                        raise _rebuild_error(*value["load_error"][:2])
                    assert task is not None
                    tracker.finished(task, value)
                    if actor is not None:
                        idle.append(actor)
                now = time.monotonic()
                if now - last_poll >= POLL and tracker.running:
                    last_poll = now
                    for index, fraction in ray.get(control.snapshot.remote()).items():
                        tracker.progress(int(index), float(fraction))
                tracker.emit()
        except KeyboardInterrupt:
            for ref, (kind, _, _) in refs.items():
                if kind == "paint":
                    try:
                        ray.cancel(ref, force=True)
                    except Exception:  # noqa: BLE001
                        pass
            raise
        finally:
            for actor in actors:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # noqa: BLE001 - already gone
                    pass
            if control is not None:
                try:
                    ray.kill(control, no_restart=True)
                except Exception:  # noqa: BLE001
                    pass
        return stopping

    @staticmethod
    def _death(exc: Exception, name: str) -> str:
        kind = type(exc).__name__
        text = " ".join(str(exc).split())
        if "OutOfMemory" in kind:
            return f"{name} ran out of memory (Ray's memory monitor killed it)"
        if "SIGKILL" in text or "killed" in text.lower():
            return f"{name} was killed ({kind})"
        return f"{name} died ({kind}: {text[:200]})"


__all__ = ["BatchControl", "PainterActor", "RayRunner", "paint_remote"]
