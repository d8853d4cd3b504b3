"""Painting a video: the streaming loop, progress, cancel and resume.

One pass over the input: decode a frame, paint it with the painter (loaded
once for the whole video, so an arbitrary style's statistics are computed
once), make it consistent with the previous output (:mod:`.temporal`),
encode it, and forget it; audio packets are copied on the way. Memory holds
a few frames whatever the clip's length.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import Cancelled, ConfigError, UsageError
from ..progress import OptionalCallback, OptionalCancel, Progress, is_cancelled
from . import resume as resume_state
from .config import VideoConfig
from .sink import ContainerSink, FolderSink, check_output
from .source import VideoSource
from .temporal import BlendSettings, TemporalBlender


@dataclass
class VideoResult:
    """What :func:`run_video` did.

    Attributes:
        output: the file or folder written.
        frames: frames in the output.
        painted: frames painted by this run (the rest were resumed).
        total: frames the input range was expected to hold (0: unknown).
        seconds: wall time of the run, model loading excluded.
        size: (width, height) of the frames.
        cancelled: the run was stopped early; the output holds ``frames`` frames.
        resumed_from: frames taken from an interrupted run.
        scene_cuts: frames where the blend restarted (a new shot).
        painter: what painted.
        notes: remarks for the user (padding, audio, assumed frame rate, ...).
    """

    output: Path
    frames: int = 0
    painted: int = 0
    total: int = 0
    seconds: float = 0.0
    size: Tuple[int, int] = (0, 0)
    cancelled: bool = False
    resumed_from: int = 0
    scene_cuts: int = 0
    painter: str = ""
    notes: List[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames painted per second of wall time."""
        return self.painted / self.seconds if self.seconds > 0 else 0.0


def blend_settings(config: VideoConfig) -> BlendSettings:
    """The blender's settings from a :class:`VideoConfig`."""
    return BlendSettings(
        blend=config.blend if config.consistency == "flow" else 0.0,
        detail_blend=config.detail_blend,
        detail_gain=config.detail,
        flow_preset=config.flow,
        check_preset=config.flow if config.flow_check else "none",
        flow_size=config.flow_size,
    )


def split_cores(video: VideoConfig, threads: int = 0) -> Tuple[int, int]:
    """How a one-pass video run shares the CPU: (painter threads, frame-worker threads).

    With consistency on, a worker thread blends and encodes the previous frame
    and computes the next one's flow while the painter paints. Oversubscribed
    (the painter on every core, OpenCV's pool on every core beside it) both
    wait on each other; on 2 cores one each was 20% faster than two each
    (benchmarks/results/video_consistency.txt).

    Args:
        video: the video settings.
        threads: the painter's requested threads (0: automatic).

    Returns:
        ``(painter, worker)``; ``painter`` is 0 (automatic) when nothing is to be split.
    """
    from ..cores import usable_cores

    cores = usable_cores()
    if threads or video.consistency != "flow" or cores < 2:
        return threads, 1
    worker = max(1, cores // 8)
    return cores - worker, worker


def _painter_config(painter: Any, video: VideoConfig) -> Tuple[Any, int]:
    """(config to paint with, long side of the frames in px or 0 to keep the input's)."""
    cfg = painter.config
    if painter.method == "transfer":
        return cfg, video.size or cfg.size
    size = video.size or getattr(cfg, "size", 0)
    return cfg.replace(size=0) if getattr(cfg, "size", 0) else cfg, size


def _partial_frames(path: Path, count: int) -> Iterator[np.ndarray]:
    """The first ``count`` frames of an interrupted run's output (as written, before padding)."""
    with VideoSource(path, VideoConfig()) as partial:
        n = 0
        for kind, item in partial.items():
            if kind != "video":
                continue
            yield item.pixels
            n += 1
            if n >= count:
                return
    if n < count:
        raise UsageError(f"cannot resume: {path} holds {n} frames, the resume state says {count}")


def run_video(
    painter: Any,
    source: Union[str, Path],
    output: Union[str, Path],
    video: Optional[VideoConfig] = None,
    *,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
) -> VideoResult:
    """Paint every frame of ``source`` with ``painter`` and write ``output``.

    Args:
        painter: from :func:`painterly.jobs.painters.make_painter` (any method).
        source: a video file, a folder of frames or a glob pattern of frames.
        output: a video file (.mp4, .webm, .mov, .mkv, .gif) or a folder for PNG frames.
        video: the video settings (default :class:`VideoConfig`).
        on_progress: receives ``Progress(kind="video")`` after each frame
            (``rate`` in frames/s, ``snapshot`` the frame just written).
        cancel: when set, the run stops after the current frame (or inside it,
            for the optimization method), closes the output as a playable video
            of the finished frames and raises :class:`~painterly.errors.Cancelled`.

    Returns:
        A :class:`VideoResult`.

    Raises:
        Cancelled: stopped by ``cancel``; ``.result`` is the :class:`VideoResult`
            (the resume state is saved beside the output).
        VideoError, VideoNotFoundError: an unusable input.
        OutputError: an unusable output path.
        UsageError: ``--resume`` of a run with other settings.
    """
    vcfg = video or VideoConfig()
    out = Path(output)
    kind = check_output(out)
    paint_cfg, size = _painter_config(painter, vcfg)
    vcfg_used = vcfg.replace(size=size) if size != vcfg.size else vcfg
    src = VideoSource(source, vcfg_used)
    try:
        return _run(painter, paint_cfg, src, out, kind, vcfg_used, on_progress, cancel)
    finally:
        src.close()


def _run(
    painter: Any, paint_cfg: Any, src: VideoSource, out: Path, kind: str, vcfg: VideoConfig,
    on_progress: OptionalCallback, cancel: OptionalCancel,
) -> VideoResult:
    result = VideoResult(output=out, total=src.frames_estimate, painter=painter.name, notes=src.notes)
    sidecar = resume_state.state_dir(out)
    print_ = resume_state.fingerprint(str(Path(src.path)), painter, paint_cfg, vcfg)
    done = 0
    last_output: Optional[np.ndarray] = None
    if vcfg.resume:
        saved = resume_state.load(sidecar)
        if saved is None:
            result.notes.append(f"nothing to resume for {out}: painting from the first frame")
        else:
            resume_state.check_same_run(saved[0], print_, sidecar)
            done, last_output = saved[1], saved[2]
            if kind != "folder" and not out.is_file():
                raise UsageError(f"cannot resume: the partial output {out} is missing; run without --resume")
    else:
        resume_state.clear(sidecar)
    result.resumed_from = done
    blender = TemporalBlender(blend_settings(vcfg))
    original_cfg = painter.config
    painter.config = paint_cfg
    sink: Any = None
    pending_audio: List[Any] = []
    partial: Optional[Iterator[np.ndarray]] = None
    warm_dir: Optional[tempfile.TemporaryDirectory] = None
    first_iterations = 0
    last_source = -1
    out_pixels: Optional[np.ndarray] = None
    started = time.perf_counter()
    paint_start: Optional[float] = None
    stopped = False
    pool: Optional[ThreadPoolExecutor] = None
    # One-pass frames finish in a worker thread: while frame k is painted (both
    # cores, the painter releases the GIL), the worker blends and encodes frame
    # k-1 and computes frame k's flow and warp. At most one frame is in flight.
    pending: Optional[Future] = None
    cv_threads: Optional[int] = None
    balance = _EncoderPlace()

    def collect() -> Optional[Tuple[Any, np.ndarray, bool]]:
        """Wait for the frame in flight: ``(frame, pixels, encoded)``, or None when there is none."""
        nonlocal pending, out_pixels
        if pending is None:
            return None
        future, pending = pending, None
        frame, out_pixels, encoded = future.result()
        for packet in pending_audio:  # the muxer interleaves by time; each stream stays in order
            sink.write_audio(packet)
        pending_audio.clear()
        return frame, out_pixels, encoded

    def settle() -> None:
        """Wait for the frame in flight; write it (unless the worker did), count it and report it."""
        late = collect()
        if late is not None:
            written(*late)

    def written(frame: Any, pixels: np.ndarray, encoded: bool = False) -> None:
        """Write a finished frame (unless ``encoded`` already), count it and report it."""
        if not encoded:
            sink.write(pixels, frame.pts, frame.duration)
        result.frames += 1
        result.painted += 1
        if on_progress is not None:
            elapsed = time.perf_counter() - started
            painting = time.perf_counter() - (paint_start or started)
            snap = pixels
            on_progress(Progress(
                kind="video", step=result.frames, total=max(result.total, result.frames),
                size=snap.shape[:2], elapsed=elapsed,
                rate=result.painted / painting if painting > 0 else 0.0,
                snapshot=lambda snap=snap: snap,
            ))

    def finish(frame: Any, stylized: np.ndarray, ahead: Optional[Future], encode: bool) -> Tuple[Any, np.ndarray, bool]:
        start = time.perf_counter()
        if stylized.shape != frame.pixels.shape:  # a painter that resized: back to the frame's size
            from .source import _resize

            stylized = _resize(stylized, frame.pixels.shape[:2])
        out = blender(frame.pixels, stylized, ahead.result() if ahead is not None else "compute")
        balance.worked(time.perf_counter() - start)
        if encode:  # the main thread writes only frames the worker left, and only after collect()
            sink.write(out, frame.pts, frame.duration)
        return frame, out, encode

    try:
        for item_kind, item in src.items():
            if item_kind == "audio":
                if not vcfg.audio:
                    continue
                if sink is None or pending is not None:
                    # Held until the main thread owns the container again (collect()):
                    # waiting for the worker here would stall the painter at every packet.
                    pending_audio.append(item)
                else:
                    sink.write_audio(item)
                continue
            frame = item
            if sink is None:
                sink = _open_sink(out, kind, frame.pixels.shape[:2], src, vcfg, result.notes)
                result.size = (frame.pixels.shape[1], frame.pixels.shape[0])
                for packet in pending_audio:
                    sink.write_audio(packet)
                pending_audio.clear()
            if frame.index < done:  # finished by the interrupted run
                if kind == "folder":
                    if not sink.frame_path(frame.index).is_file():
                        raise UsageError(f"cannot resume: frame {sink.frame_path(frame.index)} is missing")
                    sink.skip(1)
                else:
                    if partial is None:
                        partial = _partial_frames(out, done)
                    sink.write(next(partial), frame.pts, frame.duration)
                if frame.index == done - 1:
                    assert last_output is not None
                    if last_output.shape != frame.pixels.shape:
                        raise UsageError("cannot resume: the saved last frame does not match the input's frame size")
                    blender.prime(frame.pixels, last_output)
                    out_pixels = last_output
                last_source = frame.source_index
                result.frames += 1
                continue
            if is_cancelled(cancel):
                stopped = True
                break
            if paint_start is None:
                paint_start = time.perf_counter()
            one_pass = painter.method != "transfer"
            if frame.source_index == last_source:  # --fps repeated this input frame
                settle()
                assert out_pixels is not None
                written(frame, out_pixels)
                continue
            last_source = frame.source_index
            if one_pass:
                if pool is None:
                    pool = ThreadPoolExecutor(1, thread_name_prefix="painterly-frames")
                    cv_threads = _set_cv_threads(split_cores(vcfg)[1])
                # Queued behind the previous frame's blend, so it sees that frame's output.
                ahead = pool.submit(balance.timed, blender.prepare, frame.pixels) if blender.settings.blend > 0 else None
                try:
                    painting_since = time.perf_counter()
                    stylized = painter.paint(frame.pixels, cancel=cancel).pixels
                    balance.painted(time.perf_counter() - painting_since)
                except Cancelled:
                    stopped = True
                    break
                in_worker = balance.encode_in_worker()
                late = collect()
                if late is not None and not late[2] and in_worker:
                    written(*late)  # before the worker may write this frame
                    late = None
                pending = pool.submit(finish, frame, stylized, ahead, in_worker)
                if late is not None:
                    written(*late)  # encoding here overlaps the worker's blend
                continue
            try:
                stylized, first_iterations, warm_dir = _paint_transfer(
                    painter, paint_cfg, frame.pixels, blender, vcfg, first_iterations, warm_dir, cancel
                )
            except Cancelled:
                stopped = True
                break
            pending = _done_future(finish(frame, stylized, None, True))
            settle()
        settle()
    except BaseException:
        painter.config = original_cfg
        try:
            settle()  # the frame in flight is painted: keep it
        except BaseException:  # noqa: BLE001 - the original error matters more
            pass
        if sink is not None and result.frames > 0 and out_pixels is not None:
            # Keep what is done, playable and resumable, even when something failed midway.
            try:
                sink.close()
                resume_state.save(sidecar, print_, result.frames, out_pixels)
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
        elif sink is not None:
            sink.abort()
        raise
    finally:
        painter.config = original_cfg
        if pool is not None:
            pool.shutdown(wait=True)
        if cv_threads is not None:
            _set_cv_threads(cv_threads)
        if warm_dir is not None:
            warm_dir.cleanup()
    result.seconds = time.perf_counter() - started
    result.scene_cuts = blender.resets
    if sink is None:
        from .errors import VideoError

        raise VideoError(f"{src.path} has no video frames in the chosen range")
    sink.close()
    if stopped:
        result.cancelled = True
        if out_pixels is not None and result.frames:
            resume_state.save(sidecar, print_, result.frames, out_pixels)
        raise Cancelled(
            f"stopped after {result.frames} of {result.total or '?'} frames; {out} holds them "
            "(rerun with --resume to finish)",
            result=result,
        )
    if result.total == 0 or result.total != result.frames:
        result.total = result.frames
    resume_state.clear(sidecar)
    return result


class _EncoderPlace:
    """Where a one-pass run encodes: beside the blend in the worker, or on the painting thread.

    With one core each (:func:`split_cores`), the encoder (10-20 ms a frame at
    640 px) belongs to whichever job is shorter, and that depends on the frame
    size and the model: on 640x640 frames the painter was the longer job, on
    640x360 ones the worker (benchmarks/results/video_consistency.txt).
    Running means of both jobs' seconds per frame decide, frame by frame.
    """

    def __init__(self) -> None:
        self.paint = 0.0
        self.work = 0.0
        self._ahead = 0.0  # the next frame's flow and warp, computed before its blend

    @staticmethod
    def _mean(mean: float, seconds: float) -> float:
        return seconds if mean == 0.0 else 0.8 * mean + 0.2 * seconds

    def painted(self, seconds: float) -> None:
        """The painter took ``seconds`` for a frame."""
        self.paint = self._mean(self.paint, seconds)

    def worked(self, seconds: float) -> None:
        """The worker blended a frame in ``seconds`` (called from the worker, after :meth:`timed`'s part)."""
        self.work = self._mean(self.work, seconds + self._ahead)
        self._ahead = 0.0

    def timed(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` for the next frame's flow and warp, its time counted as the worker's."""
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._ahead = time.perf_counter() - start

    def encode_in_worker(self) -> bool:
        """True: the worker is the shorter job (or nothing is known yet)."""
        return self.paint >= self.work


def _set_cv_threads(count: int) -> int:
    """Set OpenCV's thread count (process-wide); returns the previous one to restore."""
    from ..errors import require

    cv2: Any = require("cv2", "video")
    previous = cv2.getNumThreads()
    cv2.setNumThreads(count)
    return previous


def _done_future(value: Any) -> Future:
    """A future already holding ``value`` (the synchronous path shares :func:`_run`'s bookkeeping)."""
    future: Future = Future()
    future.set_result(value)
    return future


def _open_sink(out: Path, kind: str, shape: Tuple[int, int], src: VideoSource, vcfg: VideoConfig, notes: List[str]) -> Any:
    if kind == "folder":
        if src.audio is not None and vcfg.audio:
            notes.append("a folder of PNG frames has no sound: the audio track is not written")
        return FolderSink(out, notes)
    start, end = src.audio_range()
    return ContainerSink(
        out, shape, src.output_time_base, src.rate, crf=vcfg.crf,
        audio=src.audio if vcfg.audio else None, audio_start=start, audio_end=end, notes=notes,
    )


def _paint_transfer(
    painter: Any, cfg: Any, pixels: np.ndarray, blender: TemporalBlender, vcfg: VideoConfig,
    first_iterations: int, warm_dir: Optional[tempfile.TemporaryDirectory], cancel: OptionalCancel,
) -> Tuple[np.ndarray, int, Optional[tempfile.TemporaryDirectory]]:
    """Optimization on a video frame: the first from the photo, later ones from the warped previous result.

    Starting from the previous output moved by the flow (the photo where it
    is occluded) the optimizer only has to paint what changed, so a few
    iterations at one scale suffice (Ruder et al. 2016 initialise the same
    way; their temporal loss term is approximated by the blend that follows).
    """
    from PIL import Image

    found = blender.warped_previous(pixels) if vcfg.consistency == "flow" else None
    if found is None or first_iterations == 0:
        painter.config = cfg
        painting = painter.paint(pixels, cancel=cancel)
        return painting.pixels, first_iterations or max(1, painting.iterations), warm_dir
    previous, conf = found
    photo = pixels.astype(np.float32) / 255.0
    init = conf[..., None] * previous + (1.0 - conf[..., None]) * photo
    if warm_dir is None:
        warm_dir = tempfile.TemporaryDirectory(prefix="painterly-video-")
    init_path = Path(warm_dir.name) / "init.png"
    Image.fromarray(np.clip(np.rint(init * 255), 0, 255).astype(np.uint8)).save(init_path)
    iterations = vcfg.warm_iterations or max(1, first_iterations // 3)
    painter.config = cfg.replace(init=str(init_path), iterations=iterations, multiscale=False)
    try:
        painting = painter.paint(pixels, cancel=cancel)
    finally:
        painter.config = cfg
    return painting.pixels, first_iterations, warm_dir


def stylize_video(
    input: Union[str, Path],
    output: Union[str, Path],
    *,
    model: Any = None,
    style_images: Sequence[Any] = (),
    transfer_styles: Sequence[Any] = (),
    config: Any = None,
    video: Optional[VideoConfig] = None,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
) -> VideoResult:
    """Paint a video with a trained model, any painting, or by optimization; no flicker by default.

    Args:
        input: a video file (anything FFmpeg reads), a folder of frames or a glob like ``'frames/*.png'``.
        output: ``.mp4`` (H.264), ``.webm`` (VP9), ``.mov``, ``.mkv``, ``.gif`` or a folder for PNG frames.
        model: a trained model's name or file, or a painter from :func:`painterly.load_model`;
            with ``style_images``: an AdaIN model (default ``adain``).
        style_images: paint in the style of these images (the arbitrary method; the style is
            analysed once for the whole video).
        transfer_styles: paint by optimization (Gatys et al.) towards these style images; slow.
        config: :class:`~painterly.config.StylizeConfig`, or :class:`~painterly.config.TransferConfig`
            with ``transfer_styles``.
        video: :class:`VideoConfig` (consistency, range, size, frame rate, quality, resume).
        on_progress: receives ``Progress(kind="video")`` per frame.
        cancel: an event; see :func:`run_video`.

    Returns:
        A :class:`VideoResult`.

    Raises:
        Cancelled, ConfigError, ModelError, VideoError, OutputError.
    """
    from ..config import StylizeConfig, TransferConfig
    from ..jobs.painters import Painter, make_painter, one_pass_painter

    if transfer_styles:
        if model is not None or style_images:
            raise ConfigError("give transfer_styles, style_images or model, not several", field="transfer_styles")
        cfg = config if config is not None else TransferConfig()
        painter = make_painter("transfer", cfg, styles=tuple(transfer_styles))
    else:
        if not isinstance(model, Painter):  # a loaded painter keeps its threads
            cfg = config if config is not None else StylizeConfig()
            config = cfg.replace(threads=split_cores(video or VideoConfig(), cfg.threads)[0])
        painter = one_pass_painter(model, style_images, config)
    return run_video(painter, input, output, video, on_progress=on_progress, cancel=cancel)


__all__ = ["VideoResult", "blend_settings", "run_video", "split_cores", "stylize_video"]
