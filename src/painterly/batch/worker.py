"""What runs inside a batch worker (a local pool process, a Ray actor or a Ray task).

A worker loads the painter once (:func:`load_painter`: model, style images,
its share of the CPU threads) and then paints task after task
(:func:`paint_task`) with the job layer's :func:`~painterly.jobs.run.paint_one`:
the same reading, painting and atomic writing as ``painterly stylize``, so
the outputs are the same bytes. Workers read and write the images
themselves; only names and small result records cross to the driver.

Nothing here imports torch at module level: a spawned worker sets its thread
limits before the first heavy import.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ..errors import PainterlyError
from ..progress import OptionalCallback, OptionalCancel
from .plan import BatchTask
from .uris import basename, fetch, is_uri, upload

#: Environment variables that size the thread pools of torch's and numpy's math libraries.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker needs to load its painter (small and picklable; no image data).

    Attributes:
        method: ``stylize``, ``arbitrary`` or ``transfer``.
        config: the method's config.
        styles: ``transfer``: style images; ``arbitrary``: images replacing
            ``config.style_images`` (paths or URIs).
        mask: ``transfer``: region mask (path or URI).
        quality: JPEG/WebP quality of the outputs.
        save_config: write ``OUT.json`` with the settings beside each output.
        threads: CPU threads of this worker (0: leave the libraries' defaults).
        style_weights: a ``--style-weights`` spec by style name (``wave:0.7,udnie:0.3``), resolved
            against the trained model's styles once it is loaded; empty: ``config.style_weights``.
    """

    method: str
    config: Any
    styles: Tuple[str, ...] = ()
    mask: Optional[str] = None
    quality: int = 95
    save_config: bool = False
    threads: int = 0
    style_weights: str = ""


def worker_name() -> str:
    """``host:pid`` of this process, as the manifest records it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def limit_threads(threads: int) -> None:
    """Give this process ``threads`` CPU threads (torch, OpenMP, MKL; onnxruntime via the config).

    The environment variables only take effect before the math libraries
    load, so a worker calls this first; torch, if already imported, is told directly.
    """
    if threads <= 0:
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        from ..jobs.api import set_threads

        set_threads(threads)


_TEMP: Dict[str, Path] = {}


def _scratch() -> Path:
    """A folder for downloaded style images, removed when the worker exits."""
    if "dir" not in _TEMP:
        _TEMP["dir"] = Path(tempfile.mkdtemp(prefix="painterly-batch-"))
        atexit.register(shutil.rmtree, str(_TEMP["dir"]), True)
    return _TEMP["dir"]


def _local(name: Any) -> Any:
    """A style or mask named by URI, copied to a local file; anything else unchanged."""
    if not is_uri(name):
        return name
    folder = _scratch() / str(len(list(_scratch().iterdir())))
    folder.mkdir()
    target = folder / basename(name)
    fetch(name, target)
    return str(target)


def load_painter(setup: WorkerSetup) -> Any:
    """Set this worker's threads and load its painter (once per worker).

    Raises:
        PainterlyError: an unusable model, style image or setting (ModelError, ImageError, ConfigError ...).
    """
    from ..jobs.painters import make_painter
    from ..memory import reuse_freed_memory

    limit_threads(setup.threads)
    reuse_freed_memory()
    cfg = setup.config
    load_cfg = cfg
    if setup.threads > 0 and hasattr(cfg, "threads"):
        # The runtimes read config.threads when they load (onnxruntime's intra-op pool).
        load_cfg = cfg.replace(threads=setup.threads)
    if setup.method == "arbitrary" and load_cfg.style_images:
        load_cfg = load_cfg.replace(style_images=tuple(_local(s) for s in load_cfg.style_images))
    if getattr(load_cfg, "mask", "") and is_uri(load_cfg.mask):
        load_cfg = load_cfg.replace(mask=_local(load_cfg.mask))
    styles = tuple(_local(s) for s in setup.styles)
    mask = _local(setup.mask) if setup.mask else None
    painter = make_painter(setup.method, load_cfg, styles=styles, mask=mask)
    # Paint (and write OUT.json) with the settings as the user gave them, as `painterly stylize`
    # does: the thread count is this worker's business, and a config that loaded the same
    # model paints the same pixels.
    final = cfg
    if setup.method == "stylize" and setup.style_weights:
        from ..fast.stylize import parse_style_weights, style_weight_vector

        names = painter.stylizer.info.styles
        final = final.replace(style_weights=parse_style_weights(setup.style_weights, names))
        style_weight_vector(final.style_weights, names)
    painter.config = final
    if setup.threads > 0 and "torch" in sys.modules:
        from ..jobs.api import set_threads

        set_threads(setup.threads)
    return painter


def _one_line(text: Any) -> str:
    return " ".join(str(text).split()) or "(no message)"


def paint_task(
    painter: Any,
    task: BatchTask,
    setup: WorkerSetup,
    *,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
) -> Dict[str, Any]:
    """Paint one task and write its output; never raises for a bad input.

    Returns:
        The :class:`~painterly.jobs.run.ItemResult` fields as a dict (``input`` and
        ``output`` as the task names them), plus ``worker``.
    """
    from ..jobs.run import ItemResult, paint_one

    start = time.perf_counter()
    remote = is_uri(task.input) or is_uri(task.output)
    try:
        if not remote:
            item = paint_one(painter, Path(task.input), Path(task.output), quality=setup.quality,
                             save_config=setup.save_config, on_progress=on_progress, cancel=cancel)
        else:
            item = _paint_remote(painter, task, setup, on_progress, cancel)
    except PainterlyError as exc:
        item = ItemResult(task.input, None, "failed", error=_one_line(exc))
    except Exception as exc:  # noqa: BLE001 - one image's crash must not end the worker or the batch
        item = ItemResult(task.input, None, "failed", error=f"{type(exc).__name__}: {_one_line(exc)}")
    result = item.to_dict()
    result.update(input=task.input, seconds=time.perf_counter() - start, worker=worker_name())
    result["size"] = list(result.get("size") or (0, 0))
    return result


def _paint_remote(painter: Any, task: BatchTask, setup: WorkerSetup, on_progress: Any, cancel: Any) -> Any:
    """paint_one through local temporary copies of a URI input and/or output."""
    from ..jobs.run import paint_one

    with tempfile.TemporaryDirectory(prefix="painterly-batch-") as tmp:
        source = Path(task.input)
        if is_uri(task.input):
            (Path(tmp) / "in").mkdir()
            source = Path(tmp) / "in" / basename(task.input)
            fetch(task.input, source)
        target = Path(task.output)
        if is_uri(task.output):
            (Path(tmp) / "out").mkdir()
            target = Path(tmp) / "out" / basename(task.output)
        item = paint_one(painter, source, target, quality=setup.quality, save_config=setup.save_config,
                         on_progress=on_progress, cancel=cancel)
        item.input = task.input
        if item.output is not None and is_uri(task.output):
            if setup.save_config:
                upload(Path(str(target) + ".json"), task.output + ".json")
            upload(target, task.output)  # last: a listed output is a complete one
            item.output = task.output
        return item


__all__ = ["THREAD_VARIABLES", "WorkerSetup", "limit_threads", "load_painter", "paint_task", "worker_name"]
