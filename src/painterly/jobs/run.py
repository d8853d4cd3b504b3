"""Run a painting method over input files: plan, read, paint, write atomically, report.

:func:`run_job` is what ``painterly stylize`` / ``transfer`` / ``demo``, the web
service and the batch workers call. It never prints: everything it has to
say comes back in a :class:`JobResult` (one :class:`ItemResult` per input) or
through ``on_progress``. An unreadable input is recorded as failed and the
others go on; nothing the user had is overwritten by a failed write, and an
output never replaces its own input.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ..config import METHOD_CONFIGS
from ..errors import Cancelled, ConfigError, ImageError, OutputError, UsageError
from ..progress import OptionalCallback, OptionalCancel, Progress, is_cancelled
from .painters import Painter, Painting, check_method, default_config, make_painter, paint_lanes
from .plan import gather_inputs, plan_outputs, same_file

#: Status of one input after a job.
STATUSES = ("done", "failed", "cancelled", "skipped")


@dataclass(frozen=True)
class JobSpec:
    """What to paint, how, and where the results go.

    Attributes:
        method: ``stylize`` (a trained model), ``arbitrary`` (any painting) or
            ``transfer`` (optimization).
        inputs: image files and/or folders of images.
        output: an image file for a single input file, else a folder (created).
        config: the method's config (:class:`~painterly.config.StylizeConfig`
            or :class:`~painterly.config.TransferConfig`; default: its defaults).
        styles: ``transfer``: the style images; ``arbitrary``: style images
            replacing ``config.style_images``.
        mask: ``transfer``: a grayscale image assigning regions to styles.
        quality: JPEG/WebP quality, 1-100.
        suffix: output format for folder outputs (``.jpg``); default: the input's.
        save_config: also write the config as JSON beside each output (``OUT.json``).
        skip_existing: leave inputs whose output already exists (status ``skipped``).
    """

    method: str
    inputs: Tuple[str, ...]
    output: str
    config: Any = None
    styles: Tuple[Any, ...] = ()
    mask: Any = None
    quality: int = 95
    suffix: str = ""
    save_config: bool = False
    skip_existing: bool = False


@dataclass
class ItemResult:
    """The outcome of one input.

    Attributes:
        input: the input file.
        output: the file written (None when nothing was).
        status: ``done``, ``failed``, ``cancelled`` (the best image so far was
            written where there was one) or ``skipped``.
        seconds: wall time from reading to written.
        error: one line saying what went wrong (failed/cancelled).
        size: (width, height) of the output in px.
        losses: named loss parts at the end (optimization).
        iterations: optimizer iterations (optimization).
        detail: a few words for a summary line.
        exception: the error behind a failure (not serialized), for callers that re-raise it.
    """

    input: str
    output: Optional[str]
    status: str
    seconds: float = 0.0
    error: str = ""
    size: Tuple[int, int] = (0, 0)
    losses: Dict[str, float] = field(default_factory=dict)
    iterations: int = 0
    detail: str = ""
    exception: Optional[BaseException] = field(default=None, repr=False, compare=False)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready fields."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "exception"}


@dataclass
class JobResult:
    """What :func:`run_job` did.

    Attributes:
        items: one result per planned input, in input order (inputs not
            reached after a cancel are ``cancelled`` with no output).
        seconds: wall time of the whole job.
        painter: what painted, for display.
        to_folder: the output was a folder.
        notes: warnings worth showing (an empty input folder).
        cancelled: the cancel event stopped the job.
    """

    items: List[ItemResult]
    seconds: float
    painter: str
    to_folder: bool
    notes: List[str] = field(default_factory=list)
    cancelled: bool = False

    def count(self, status: str) -> int:
        """Number of items with ``status``."""
        return sum(1 for item in self.items if item.status == status)

    @property
    def ok(self) -> bool:
        """Every input was painted (or skipped as already done)."""
        return not self.cancelled and all(i.status in ("done", "skipped") for i in self.items)


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "(no message)"


def resolve_config(method: str, config: Any) -> Any:
    """``config`` checked against ``method`` (default: the method's defaults)."""
    check_method(method)
    cfg = config if config is not None else default_config(method)
    if not isinstance(cfg, METHOD_CONFIGS[method]):
        raise ConfigError(
            f"method {method} takes a {METHOD_CONFIGS[method].__name__}, not a {type(cfg).__name__}", field="config"
        )
    return cfg


def read_pixels(source: Any, painter: Painter) -> Any:
    """The photo as uint8 (H, W, 3): at ``config.size`` for one-pass painters, as stored for optimization.

    Raises:
        ImageError: missing, corrupt, empty or over ``config.max_pixels``.
    """
    from ..imaging.io import load_array

    cfg = painter.config
    size = (cfg.size or None) if painter.resizes_input else None
    return load_array(source, size=size, max_pixels=cfg.max_pixels)


def paint_one(
    painter: Painter,
    source: Path,
    target: Path,
    *,
    quality: int = 95,
    save_config: bool = False,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
    guard: Optional[Callable[[Any], Any]] = None,
) -> ItemResult:
    """Read ``source``, paint it and write ``target`` atomically; never raises for a bad input.

    A cancel during painting writes the best image so far (optimization) and
    returns status ``cancelled``; unreadable inputs and unwritable outputs
    return status ``failed`` with the reason in ``error``. ``guard(pixels)``,
    when given, is a context manager held while the pixels are painted.
    """
    start = time.perf_counter()
    read = _read_stage(painter, source, target)
    if isinstance(read, ItemResult):
        return read
    with guard(read) if guard is not None else contextlib.nullcontext():
        done = _paint_stage(painter, source, read, start, on_progress, cancel)
    del read
    if isinstance(done, ItemResult):
        return done
    return _write_stage(painter, source, target, done, start, quality, save_config)


def _read_stage(painter: Painter, source: Path, target: Path) -> Any:
    """The photo's pixels, or a failed :class:`ItemResult`."""
    start = time.perf_counter()
    if same_file(source, target):
        return ItemResult(str(source), None, "failed", error=f"the output {target} would overwrite the input")
    try:
        return read_pixels(source, painter)
    except ImageError as exc:
        return ItemResult(str(source), None, "failed", time.perf_counter() - start, _one_line(str(exc)), exception=exc)


def _paint_stage(
    painter: Painter, source: Path, pixels: Any, start: float, on_progress: OptionalCallback, cancel: OptionalCancel,
) -> Any:
    """``(painting, status, error)`` to write, or an :class:`ItemResult` when there is nothing to write."""
    status, error = "done", ""
    try:
        painting: Optional[Painting] = painter.paint(pixels, on_progress=on_progress, cancel=cancel)
    except Cancelled as exc:
        painting = exc.result if isinstance(exc.result, Painting) else None
        status, error = "cancelled", _one_line(str(exc))
    except ImageError as exc:
        return ItemResult(str(source), None, "failed", time.perf_counter() - start, _one_line(str(exc)), exception=exc)
    if painting is None:
        return ItemResult(str(source), None, status, time.perf_counter() - start, error)
    return painting, status, error


def _write_stage(
    painter: Painter, source: Path, target: Path, done: Tuple[Painting, str, str], start: float,
    quality: int, save_config: bool,
) -> ItemResult:
    """Write the painting atomically (and its config); the item's result."""
    from PIL import Image

    from ..imaging.io import save_image, write_atomic

    painting, status, error = done
    try:
        path = save_image(Image.fromarray(painting.pixels), target, quality=quality)
        if save_config:
            write_atomic(str(path) + ".json", painter.config.to_json() + "\n")
    except (ImageError, OutputError) as exc:
        return ItemResult(str(source), None, "failed", time.perf_counter() - start, _one_line(str(exc)), exception=exc)
    h, w = painting.pixels.shape[:2]
    return ItemResult(
        str(source), str(path), status, time.perf_counter() - start, error, (w, h),
        dict(painting.losses), painting.iterations, painting.detail,
    )


def plan_job(spec: JobSpec) -> Tuple[List[Path], List[Path], bool, List[str]]:
    """The job's input files, their outputs (the folder created), whether the output is a folder, and notes.

    Raises:
        UsageError: no inputs, or an output file for several inputs.
        OutputError: an unknown output format or an output folder that cannot be made.
    """
    from ..imaging.io import check_output_path

    if not spec.inputs:
        raise UsageError("no inputs given")
    files, to_folder, notes = gather_inputs(spec.inputs)
    if not files:
        raise UsageError("no input images found")
    outputs = plan_outputs(files, spec.output, to_folder, spec.suffix)
    for target in outputs:
        check_output_path(target)  # a bad extension fails now, not after the first image
    return files, outputs, to_folder, notes


def run_job(
    spec: JobSpec,
    *,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
    painter: Optional[Painter] = None,
    on_item: Optional[Callable[[ItemResult], None]] = None,
) -> JobResult:
    """Paint every input of ``spec``; see the module docstring.

    Args:
        spec: the job.
        on_progress: receives the painter's events with ``item`` / ``items``
            set, so :attr:`~painterly.progress.Progress.fraction` covers the whole job.
        cancel: an event; when set, the current image stops at its next tile or
            iteration (optimization writes its best image so far) and no
            further input is started.
        painter: an already loaded painter of ``spec.method`` (reused across jobs).
        on_item: called with each input's :class:`ItemResult` as soon as it is
            known (so a long folder reports as it goes, not at the end).

    Returns:
        A :class:`JobResult`; ``cancelled`` is True when ``cancel`` stopped it.

    Raises:
        ConfigError, UsageError: bad settings, no inputs, an output file for
            several inputs, an unknown output format (all before any work).
        ModelError, ImageError: an unusable model or style image (before any work).
    """
    start = time.perf_counter()
    cfg = resolve_config(spec.method, spec.config if painter is None else painter.config)
    files, outputs, to_folder, notes = plan_job(spec)
    n = len(files)
    if painter is None:
        painter = make_painter(spec.method, cfg, styles=spec.styles, mask=spec.mask,
                               lanes=paint_lanes(spec.method, cfg, n))
    if min(painter.lanes, n) > 1:
        return _run_lanes(spec, painter, files, outputs, to_folder, notes, start, on_progress, cancel, on_item)
    items: List[ItemResult] = []
    cancelled = False
    # One-pass painters take a fraction of a second per photo, so decoding the next
    # photo and encoding the last painting (PIL releases the GIL for both) run in a
    # thread beside the painter; optimization's minutes per image gain nothing from it.
    io = ThreadPoolExecutor(1, thread_name_prefix="painterly-io") if n > 1 and spec.method != "transfer" else None
    reads: Dict[int, Future] = {}
    writing: Optional[Tuple[int, Future]] = None

    def todo(index: int) -> bool:
        return not (spec.skip_existing and outputs[index].is_file())

    def prefetch(index: int) -> None:
        if io is not None and index < n and index not in reads and todo(index):
            reads[index] = io.submit(_read_stage, painter, files[index], outputs[index])

    def report(index: int, item: ItemResult) -> None:
        items.append(item)
        if on_item is not None:
            on_item(item)
        if on_progress is not None:
            # A job-level event (items done of all), so a receiver sees the count move even for
            # painters that report nothing within an image.
            on_progress(Progress(kind="job", step=index + 1, total=n, elapsed=time.perf_counter() - start))

    def settle() -> None:
        nonlocal writing
        if writing is not None:
            index, future = writing
            writing = None
            report(index, future.result())

    try:
        for index, (source, target) in enumerate(zip(files, outputs)):
            if cancelled or is_cancelled(cancel):
                cancelled = True
                settle()
                items.append(ItemResult(str(source), None, "cancelled", error="the job was cancelled first"))
                continue
            if not todo(index):
                settle()
                items.append(ItemResult(str(source), str(target), "skipped"))
                continue

            def forward(event: Progress, _index: int = index) -> None:
                if on_progress is not None:
                    on_progress(dataclasses.replace(event, item=_index, items=n))

            item_start = time.perf_counter()
            read = reads.pop(index).result() if index in reads else _read_stage(painter, source, target)
            prefetch(index + 1)
            done = read if isinstance(read, ItemResult) else _paint_stage(painter, source, read, item_start, forward, cancel)
            del read
            settle()
            if isinstance(done, ItemResult):
                report(index, done)
            elif io is not None:
                writing = (index, io.submit(
                    _write_stage, painter, source, target, done, item_start, spec.quality, spec.save_config))
                if done[1] == "cancelled":
                    settle()
            else:
                report(index, _write_stage(painter, source, target, done, item_start, spec.quality, spec.save_config))
            if items and items[-1].status == "cancelled":
                cancelled = True
        settle()
    finally:
        if io is not None:
            io.shutdown(wait=True, cancel_futures=True)
    return JobResult(items, time.perf_counter() - start, painter.name, to_folder, notes, cancelled)


#: Photos above this many pixels are painted one at a time even in lanes (their tiles
#: and full-size float buffers take hundreds of MB each).
LANE_EXCLUSIVE_PIXELS = 8_000_000


def _run_lanes(
    spec: JobSpec, painter: Painter, files: List[Path], outputs: List[Path], to_folder: bool, notes: List[str],
    start: float, on_progress: OptionalCallback, cancel: OptionalCancel,
    on_item: Optional[Callable[[ItemResult], None]],
) -> JobResult:
    """:func:`run_job` with ``painter.lanes`` photos in flight, each read, painted and written by its own
    thread; results are reported in input order, events one at a time."""
    n, lanes = len(files), min(painter.lanes, len(files))
    items: List[ItemResult] = []
    cancelled = False
    events = threading.Lock()  # progress receivers need not be thread-safe
    exclusive = threading.Lock()

    def big_alone(pixels: Any) -> Any:
        return exclusive if pixels.shape[0] * pixels.shape[1] > LANE_EXCLUSIVE_PIXELS else contextlib.nullcontext()
    flight: Deque[Tuple[int, Future]] = deque()

    def emit(event: Progress) -> None:
        if on_progress is not None:
            with events:
                on_progress(event)

    def report_oldest() -> None:
        nonlocal cancelled
        index, future = flight.popleft()
        item = future.result()
        items.append(item)
        if on_item is not None:
            on_item(item)
        emit(Progress(kind="job", step=index + 1, total=n, elapsed=time.perf_counter() - start))
        if item.status == "cancelled":
            cancelled = True

    pool = ThreadPoolExecutor(lanes, thread_name_prefix="painterly-lane")
    try:
        for index, (source, target) in enumerate(zip(files, outputs)):
            if not (cancelled or is_cancelled(cancel)) and not (spec.skip_existing and target.is_file()):
                while len(flight) >= lanes:
                    report_oldest()
                if not (cancelled or is_cancelled(cancel)):

                    def forward(event: Progress, _index: int = index) -> None:
                        emit(dataclasses.replace(event, item=_index, items=n))

                    flight.append((index, pool.submit(
                        paint_one, painter, source, target, quality=spec.quality, save_config=spec.save_config,
                        on_progress=forward, cancel=cancel, guard=big_alone)))
                    continue
            while flight:  # the items list stays in input order
                report_oldest()
            if cancelled or is_cancelled(cancel):
                cancelled = True
                items.append(ItemResult(str(source), None, "cancelled", error="the job was cancelled first"))
            else:
                items.append(ItemResult(str(source), str(target), "skipped"))
        while flight:
            report_oldest()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return JobResult(items, time.perf_counter() - start, painter.name, to_folder, notes, cancelled)


__all__ = ["ItemResult", "JobResult", "JobSpec", "STATUSES", "paint_one", "plan_job", "read_pixels", "resolve_config", "run_job"]
