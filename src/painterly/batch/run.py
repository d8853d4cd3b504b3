"""``painterly.batch``: paint many images on this machine's cores or on a Ray cluster.

:func:`batch` plans the images (names only), skips those a previous run
finished (``resume``), starts the runner (a local process pool, or Ray actors
and tasks with ``ray=``), writes a manifest line per result and returns a
:class:`BatchResult`. The outputs are the bytes ``painterly stylize`` /
``painterly transfer`` write for the same input and settings: every worker
paints with the job layer's :func:`~painterly.jobs.run.paint_one`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ..config import StylizeConfig, TransferConfig
from ..errors import ConfigError, UsageError
from ..progress import OptionalCallback, OptionalCancel
from .manifest import MANIFEST_NAME, Manifest, already_done, latest, read_manifest
from .plan import BatchTask, local_folder, plan_batch
from .tracker import Tracker
from .uris import is_uri, local_path
from .worker import WorkerSetup


@dataclass
class BatchResult:
    """What :func:`batch` did.

    Attributes:
        items: one record per planned image, in input order: the manifest
            record of this run (``input``, ``output``, ``status`` ``done`` /
            ``failed`` / ``cancelled``, ``seconds``, ``worker``, ``error``,
            ``attempts``, ...), ``skipped`` for images a previous run finished,
            or ``pending`` for images a cancel left unstarted.
        seconds: wall time of the run.
        manifest: the manifest file.
        runner: how it ran ("local pool, 2 workers x 1 thread", "ray 127.0.0.1:6379, 2 actors x 1 CPU").
        painter: what painted ("wave (onnx)").
        workers: worker processes / actors started (replacements included).
        retried: tasks put back after their worker died.
        startup: seconds from the start of the run until a worker took the first
            image (connecting, starting workers, loading the model).
        cancelled: the cancel event stopped the run.
        notes: warnings worth showing (an empty input folder).
    """

    items: List[Dict[str, Any]]
    seconds: float
    manifest: str
    runner: str = ""
    painter: str = ""
    workers: int = 0
    retried: int = 0
    startup: float = 0.0
    cancelled: bool = False
    notes: List[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Number of images with ``status``."""
        return sum(1 for item in self.items if item.get("status") == status)

    @property
    def ok(self) -> bool:
        """Every image is painted (now or by an earlier run)."""
        return not self.cancelled and all(i.get("status") in ("done", "skipped") for i in self.items)

    @property
    def images_per_second(self) -> float:
        """Images painted in this run per second of wall time."""
        done = self.count("done")
        return done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready summary and items (what ``painterly batch --json`` prints)."""
        return {
            "ok": self.ok,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
            "startup": round(self.startup, 3),
            "images_per_second": round(self.images_per_second, 4),
            "counts": {s: self.count(s) for s in ("done", "failed", "cancelled", "skipped", "pending")},
            "retried": self.retried,
            "workers": self.workers,
            "runner": self.runner,
            "painter": self.painter,
            "manifest": self.manifest,
            "notes": list(self.notes),
            "items": list(self.items),
        }


def resolve_method(
    method: Optional[str], config: Any, model: Optional[str], style_images: Sequence[str], styles: Sequence[Any]
) -> tuple:
    """``(method, config)`` from :func:`batch`'s arguments (see there).

    Raises:
        ConfigError: contradicting arguments (a model and style images, a
            TransferConfig without style images, ...).
    """
    if method is None:
        if isinstance(config, TransferConfig):
            method = "transfer"
        elif style_images or (isinstance(config, StylizeConfig) and config.style_images and not model):
            method = "arbitrary"
        elif styles and config is None and not model:
            method = "transfer"
        else:
            method = "stylize"
    if method not in ("stylize", "arbitrary", "transfer"):
        raise ConfigError(f"method must be stylize, arbitrary or transfer, not '{method}'", field="method",
                          value=method, choices=("stylize", "arbitrary", "transfer"))
    if method == "transfer":
        cfg = config if config is not None else TransferConfig()
        if not isinstance(cfg, TransferConfig):
            raise ConfigError(f"transfer takes a TransferConfig, not a {type(cfg).__name__}", field="config")
        if not styles:
            raise ConfigError("the optimization method needs style images (styles=...)", field="styles")
        if model or style_images:
            raise ConfigError("model= and style_images= are for the one-pass methods, not transfer", field="model")
        return method, cfg
    cfg = config if config is not None else StylizeConfig()
    if not isinstance(cfg, StylizeConfig):
        raise ConfigError(f"{method} takes a StylizeConfig, not a {type(cfg).__name__}", field="config")
    if model:
        cfg = cfg.replace(model=str(model))
    if style_images:
        cfg = cfg.replace(style_images=tuple(str(s) for s in style_images))
    if method == "arbitrary" and not (cfg.style_images or styles):
        raise ConfigError("the arbitrary-style method needs style images (style_images=...)", field="style_images")
    if method == "stylize" and not cfg.model:
        raise ConfigError("give a trained model (model='wave'; see 'painterly models') or style_images=", field="model")
    return method, cfg


def default_manifest(output: str) -> Path:
    """``OUT/painterly-batch.jsonl`` for a local output folder; for an object store, a file in the
    current folder named after the URI (the driver appends to it, which stores cannot)."""
    folder = local_folder(output)
    if folder is not None:
        return folder / MANIFEST_NAME
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", output.split("://", 1)[-1]).strip("_")[:80]
    return local_path(f"painterly-batch-{slug}.jsonl")


def parse_resources(resources: Union[None, str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Ray resource options for each worker from a dict or JSON text.

    Accepts Ray's option names (``num_gpus``, ``num_cpus``, ``memory``,
    ``accelerator_type``, ``resources``), the short ``GPU`` / ``CPU``, and any
    other name as a custom resource: ``{"num_gpus": 1}``, ``{"GPU": 0.5, "ssd": 1}``.

    Raises:
        UsageError: not a JSON object, or a value that is not a number.
    """
    import json

    if resources is None or resources == "":
        return {}
    data: Any = resources
    if isinstance(resources, str):
        try:
            data = json.loads(resources)
        except ValueError as exc:
            raise UsageError(f"--resources must be a JSON object such as '{{\"num_gpus\": 1}}': {exc}") from None
    if not isinstance(data, Mapping):
        raise UsageError("--resources must be a JSON object such as '{\"num_gpus\": 1}'")
    out: Dict[str, Any] = {}
    custom: Dict[str, float] = {}
    for key, value in data.items():
        key = str(key)
        if key == "accelerator_type":
            out[key] = str(value)
            continue
        if key == "resources" and isinstance(value, Mapping):
            items = list(value.items())
        else:
            items = [(key, value)]
        for name, amount in items:
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                raise UsageError(f"--resources: {name} must be a number >= 0, not {amount!r}")
            if name in ("num_gpus", "GPU"):
                out["num_gpus"] = amount
            elif name in ("num_cpus", "CPU"):
                out["num_cpus"] = amount
            elif name == "memory":
                out["memory"] = amount
            else:
                custom[str(name)] = float(amount)
    if custom:
        out["resources"] = custom
    return out


def batch(
    inputs: Union[str, Sequence[str]],
    output: str,
    method: Optional[str] = None,
    config: Any = None,
    *,
    model: Optional[str] = None,
    style_images: Sequence[str] = (),
    styles: Sequence[str] = (),
    mask: Optional[str] = None,
    style_weights: str = "",
    ray: Optional[str] = None,
    workers: int = 0,
    resources: Union[None, str, Mapping[str, Any]] = None,
    resume: bool = False,
    manifest: Optional[str] = None,
    retries: int = 2,
    quality: int = 95,
    suffix: str = "",
    save_config: bool = False,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
) -> BatchResult:
    """Paint many images with one method, on this machine or a Ray cluster.

    ``painterly.batch("photos/", "out/", model="wave")`` paints with a trained
    model; ``style_images=["monet.jpg"]`` with any painting (AdaIN);
    ``styles=["starry.jpg"], config=TransferConfig(...)`` by optimization.

    Args:
        inputs: image files, folders (their images, not recursive) or URIs of
            either (``file://``, ``s3://``, anything fsspec opens).
        output: the output folder (path or URI), created if missing; the
            results are named as ``painterly stylize`` names them.
        method: ``stylize``, ``arbitrary`` or ``transfer``; default: from the other arguments.
        config: the method's :class:`~painterly.config.StylizeConfig` or
            :class:`~painterly.config.TransferConfig`; ``config.threads``, when
            set, is the threads of each worker.
        model: a trained model's name or file (stylize).
        style_images: paintings for the arbitrary-style method.
        styles: style images of the optimization method (or replacing
            ``config.style_images`` for arbitrary).
        mask: optimization: a region mask image.
        style_weights: a trained model's blend by style name (``"wave:0.7,udnie:0.3"``).
        ray: None runs locally; ``"auto"`` (the running cluster), ``"local"``
            (start Ray in this process), ``"HOST:PORT"`` or ``"ray://HOST:10001"``.
        workers: worker processes (local) or actors / concurrent tasks (Ray);
            0 chooses from the cores (see :func:`~painterly.batch.pool.pool_shape`).
        resources: Ray only: resources of each worker, e.g. ``{"num_gpus": 1}``.
        resume: skip images whose output the manifest records as done and that still exist.
        manifest: the JSON Lines manifest (default ``OUT/painterly-batch.jsonl``).
        retries: how often an image whose worker died is tried again, then recorded failed.
        quality: JPEG/WebP quality 1-100.
        suffix: output format (``.jpg``) instead of the input's.
        save_config: write ``OUT.json`` with the settings beside each output.
        on_progress: receives :class:`~painterly.batch.tracker.BatchProgress` events.
        cancel: an event; when set, no new image starts, running ones stop at
            their next tile or iteration (optimization writes its best image so
            far) and the run returns with ``cancelled`` True.

    Returns:
        A :class:`BatchResult`.

    Raises:
        ConfigError, UsageError: bad settings, no input images (before any work).
        ModelError, ImageError: the workers cannot load the model or a style image.
        MissingDependencyError: ``ray=`` without Ray installed.
    """
    started = time.perf_counter()
    if isinstance(inputs, (str, Path)):
        inputs = [str(inputs)]
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise UsageError(f"quality must be an integer from 1 to 100, not {quality!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise UsageError(f"retries must be a whole number >= 0, not {retries!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise UsageError(f"workers must be a whole number >= 0, not {workers!r}")
    method, cfg = resolve_method(method, config, model, style_images, styles)
    ray_options = parse_resources(resources)
    if ray_options and ray is None:
        raise UsageError("--resources applies to Ray workers; add --ray")
    ray_runner = None
    if ray is not None:
        from .ray_runner import RayRunner

        # No Ray, or no cluster at the address: say so before anything is planned or written.
        ray_runner = RayRunner(None, str(ray), workers=workers, resources=ray_options)
        ray_runner.connect()
    try:
        tasks, notes = plan_batch([str(i) for i in inputs], str(output), suffix)
        manifest_path = Path(manifest).expanduser() if manifest else default_manifest(str(output))
        setup = _setup(method, cfg, styles, mask, quality, save_config, style_weights)
        return _run(tasks, notes, setup, manifest_path, ray_runner, workers, resume, retries, on_progress, cancel,
                    started)
    finally:
        if ray_runner is not None:
            ray_runner.disconnect()


def _setup(method: str, cfg: Any, styles: Sequence[Any], mask: Any, quality: int, save_config: bool,
           style_weights: str) -> WorkerSetup:
    """What the workers load, with local file names made absolute (workers may run elsewhere)."""

    def absolute(name: Any) -> str:
        return name if is_uri(str(name)) else str(local_path(str(name)))

    if method == "arbitrary" and cfg.style_images:
        cfg = cfg.replace(style_images=tuple(absolute(s) for s in cfg.style_images))
    if method == "arbitrary" and cfg.mask:
        cfg = cfg.replace(mask=absolute(cfg.mask))
    if method == "stylize" and cfg.model and ("/" in cfg.model or "\\" in cfg.model or Path(cfg.model).suffix):
        cfg = cfg.replace(model=absolute(cfg.model))
    return WorkerSetup(
        method, cfg, tuple(absolute(s) for s in styles), absolute(mask) if mask else None,
        quality, save_config, int(getattr(cfg, "threads", 0) or 0), style_weights,
    )


def _run(tasks: List[BatchTask], notes: List[str], setup: WorkerSetup, manifest_path: Path, ray_runner: Any,
         workers: int, resume: bool, retries: int, on_progress: OptionalCallback, cancel: OptionalCancel,
         started: float) -> BatchResult:
    """The part of :func:`batch` after planning: skip what is done, run the rest, collect the records."""
    with Manifest(manifest_path) as sink:
        last = latest(read_manifest(manifest_path)) if resume else {}
        todo: List[BatchTask] = [t for t in tasks if not (resume and already_done(last, t.input, t.output))]
        skipped = len(tasks) - len(todo)
        tracker = Tracker(todo, sink, retries=retries, skipped=skipped, on_progress=on_progress)
        runner_text = ""
        stopped = False
        if todo:
            if ray_runner is None:
                from .pool import LocalPool, pool_shape

                n, threads = pool_shape(len(todo), workers, setup.threads)
                runner: Any = LocalPool(setup, n, threads)
            else:
                runner = ray_runner
                runner.setup, runner.tasks = setup, len(todo)
            try:
                stopped = runner.run(tracker, cancel)
            finally:
                runner_text = runner.description
    items: List[Dict[str, Any]] = []
    done_before = {t.index for t in tasks} - {t.index for t in todo}
    for task in tasks:
        if task.index in done_before:
            record = dict(last[task.input])
            record["status"] = "skipped"
            items.append(record)
        elif task.index in tracker.results:
            items.append(tracker.results[task.index])
        else:
            items.append({"input": task.input, "output": None, "status": "pending", "seconds": 0.0,
                          "worker": "", "error": "not started: the batch was cancelled first",
                          "attempts": tracker.attempts.get(task.index, 0)})
    return BatchResult(
        items, time.perf_counter() - started, str(manifest_path), runner_text, tracker.painter,
        tracker.workers, tracker.retried, (tracker.first_start or 0.0) + (tracker.start - started), bool(stopped), notes,
    )


__all__ = ["BatchResult", "batch", "default_manifest", "parse_resources", "resolve_method"]
