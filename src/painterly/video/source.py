"""Reading a video (any container FFmpeg reads, through PyAV) or a folder / glob of frames.

Frames come out one at a time (bounded memory whatever the length) as
:class:`Frame`: uint8 (H, W, 3) RGB, upright (the stream's rotation applied),
at the working size, with the input's own timestamp. The audio packets of
the input are yielded in between, untouched, so the writer can copy them.
"""

from __future__ import annotations

import glob
import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple, Union

import numpy as np

from ..errors import require
from .config import VideoConfig
from .errors import VideoError, VideoNotFoundError

#: Image suffixes read from a folder of frames.
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: Frame rate assumed for a folder of frames when --fps is not given.
DEFAULT_FOLDER_FPS = 25


@dataclass
class Frame:
    """One video frame on its way through.

    Attributes:
        index: 0-based position among the frames painted (after --start).
        pixels: uint8 (H, W, 3) RGB, upright, at the working size.
        pts: presentation time in ``time_base`` units (shifted by --start).
        duration: how long it shows, in ``time_base`` units (0: unknown).
        source_index: index of the decoded input frame (repeats when --fps duplicates).
    """

    index: int
    pixels: np.ndarray
    pts: int
    duration: int
    source_index: int


def _natural_key(path: str) -> List[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path)]


def _rate(value: float) -> Fraction:
    return Fraction(value).limit_denominator(1001 * 1000)


def working_shape(height: int, width: int, size: int) -> Tuple[int, int]:
    """(h, w) with the long side brought to ``size`` (0: unchanged)."""
    if not size or max(height, width) == size:
        return height, width
    s = size / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


def _resize(pixels: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    if pixels.shape[:2] == shape:
        return pixels
    import cv2

    shrink = shape[0] * shape[1] < pixels.shape[0] * pixels.shape[1]
    mode = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return cv2.resize(pixels, (shape[1], shape[0]), interpolation=mode)


def upright(pixels: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (degrees counter-clockwise, as PyAV reports it)."""
    turns = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


class VideoSource:
    """An opened input: its properties, and :meth:`items` to stream it.

    Attributes:
        path: what was opened.
        kind: ``container`` or ``frames`` (a folder or glob of images).
        time_base: unit of the frames' ``pts`` (the input stream's, or 1/fps).
        rate: average frame rate (frames per second) as a fraction.
        frames_estimate: frames expected in the range (for progress; 0 unknown).
        rotation: display rotation of the stream in degrees (applied to the frames).
        audio: the input's first audio stream (PyAV) or None.
        notes: remarks for the user (assumed frame rate, ...).
    """

    def __init__(self, path: Union[str, Path], config: VideoConfig) -> None:
        self.path = str(path)
        self.config = config
        self.notes: List[str] = []
        self.audio: Any = None
        self.rotation = 0
        self._container: Any = None
        self._files: List[str] = []
        text = self.path
        if any(ch in os.path.basename(text) for ch in "*?[") and not os.path.exists(text):
            self._files = sorted(glob.glob(text), key=_natural_key)
            self._files = [f for f in self._files if f.lower().endswith(FRAME_SUFFIXES)]
            if not self._files:
                raise VideoNotFoundError(f"no image files match '{text}'")
            self._open_frames()
        elif os.path.isdir(text):
            self._files = sorted(
                (os.path.join(text, f) for f in os.listdir(text) if f.lower().endswith(FRAME_SUFFIXES)),
                key=_natural_key,
            )
            if not self._files:
                raise VideoError(f"the folder {text} holds no image frames ({', '.join(FRAME_SUFFIXES)})")
            self._open_frames()
        elif not os.path.exists(text):
            raise VideoNotFoundError(f"video not found: {text}")
        else:
            self._open_container()

    # -- opening -----------------------------------------------------------

    def _open_frames(self) -> None:
        self.kind = "frames"
        fps = self.config.fps or DEFAULT_FOLDER_FPS
        if not self.config.fps:
            self.notes.append(f"frames from a folder play at {DEFAULT_FOLDER_FPS} frames/s (set --fps to change)")
        self.rate = _rate(fps)
        self.time_base = 1 / self.rate
        first = int(math.floor(self.config.start * fps + 1e-9))
        count = len(self._files) - first
        if self.config.duration:
            count = min(count, int(math.ceil(self.config.duration * fps - 1e-9)))
        if count <= 0:
            raise VideoError(f"--start {self.config.start:g} s is past the end of the {len(self._files)} frames")
        self._files = self._files[first:first + count]
        self.frames_estimate = count

    def _open_container(self) -> None:
        av = require("av", "video")
        self.kind = "container"
        try:
            self._container = av.open(self.path, "r")  # type: ignore[attr-defined]
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:  # type: ignore[attr-defined]
            raise VideoError(f"cannot read {self.path} as a video: {_reason(exc)}") from None
        c = self._container
        if not c.streams.video:
            c.close()
            raise VideoError(f"{self.path} has no video stream")
        self.stream = c.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.audio = c.streams.audio[0] if c.streams.audio else None
        self.time_base = self.stream.time_base or Fraction(1, 90000)
        rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
        self.rate = Fraction(rate) if rate else Fraction(25)
        if self.config.fps:
            self.rate = _rate(self.config.fps)
        seconds = None
        if self.stream.duration:
            seconds = float(self.stream.duration * self.time_base)
        elif c.duration:
            seconds = c.duration / 1_000_000
        frames = self.stream.frames if not self.config.fps else 0
        if seconds is not None:
            span = max(0.0, seconds - self.config.start)
            if self.config.duration:
                span = min(span, self.config.duration)
            if self.config.start or self.config.duration or not frames:
                frames = int(round(span * float(self.rate)))
        self.frames_estimate = max(0, int(frames or 0))
        if seconds is not None and self.config.start >= seconds > 0:
            c.close()
            raise VideoError(f"--start {self.config.start:g} s is past the end of {self.path} ({seconds:.2f} s)")

    def close(self) -> None:
        """Release the input file."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- streaming ---------------------------------------------------------

    @property
    def start_pts(self) -> int:
        """--start in ``time_base`` units (subtracted from every timestamp)."""
        return int(round(self.config.start / self.time_base)) if self.config.start else 0

    def items(self) -> Iterator[Tuple[str, Any]]:
        """Yield ``("video", Frame)`` and ``("audio", packet)`` in file order.

        Audio packets keep their own timestamps; the caller shifts them by
        :attr:`start_pts` (converted to the audio time base) and drops those
        outside the painted range (see :meth:`audio_range`).
        """
        frames = self._raw_frames()
        yield from self._resampled(frames) if self.config.fps and self.kind == "container" else self._numbered(frames)

    def audio_range(self) -> Tuple[float, float]:
        """Seconds (start, end) of the input whose audio is kept (end may be inf)."""
        end = self.config.start + self.config.duration if self.config.duration else math.inf
        return self.config.start, end

    def _numbered(self, raw: Iterator[Tuple[str, Any]]) -> Iterator[Tuple[str, Any]]:
        index = 0
        for kind, item in raw:
            if kind == "audio":
                yield kind, item
                continue
            pixels, pts, duration, source_index = item
            yield "video", Frame(index, pixels, pts, duration, source_index)
            index += 1

    def _resampled(self, raw: Iterator[Tuple[str, Any]]) -> Iterator[Tuple[str, Any]]:
        """--fps: output frame k shows at k / fps, from the last input frame shown by then."""
        step = 1.0 / float(self.rate)
        index = 0
        held: Optional[Tuple[np.ndarray, int]] = None  # pixels, source index
        end = self.config.duration if self.config.duration else math.inf
        last_end = 0.0
        for kind, item in raw:
            if kind == "audio":
                yield kind, item
                continue
            pixels, pts, duration, source_index = item
            t = float(pts * self.time_base)
            while held is not None and index * step < min(t, end) - 1e-9:
                yield "video", Frame(index, held[0], index, 1, held[1])
                index += 1
            held = (pixels, source_index)
            last_end = t + (float(duration * self.time_base) if duration else step)
        if held is not None:
            stop = min(last_end, end)
            while index == 0 or index * step < stop - 1e-9:
                yield "video", Frame(index, held[0], index, 1, held[1])
                index += 1

    @property
    def output_time_base(self) -> Fraction:
        """Time base of the frames' ``pts`` as yielded (1/fps when resampling)."""
        return Fraction(1) / self.rate if self.config.fps else Fraction(self.time_base)

    def seconds(self, pts: int) -> float:
        """A yielded frame's time in seconds from the start of the painted range."""
        return float(pts * self.output_time_base)

    def _shape(self, h: int, w: int) -> Tuple[int, int]:
        return working_shape(h, w, self.config.size)

    def _raw_frames(self) -> Iterator[Tuple[str, Any]]:
        """Yield ``("video", (pixels, pts, duration, source_index))`` (pts shifted by --start) and audio packets."""
        if self.kind == "frames":
            yield from self._folder_frames()
            return
        av = require("av", "video")
        c = self._container
        start, end = self.audio_range()
        start_pts = self.start_pts
        if start > 0:
            try:
                c.seek(int(start / self.time_base), stream=self.stream, backward=True)
            except av.error.FFmpegError:  # type: ignore[attr-defined]
                pass  # unseekable: decode from the beginning and drop
        streams = [self.stream] + ([self.audio] if self.audio is not None else [])
        index = 0
        pending: Optional[Any] = None  # a frame held back until the next tells its duration
        try:
            for packet in c.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        yield "audio", packet
                    continue
                for frame in self._decode(packet):
                    if frame.pts is None:
                        continue
                    t = float(frame.pts * self.time_base)
                    if t < start - 1e-6:
                        continue
                    if t >= end - 1e-6:
                        if pending is not None:
                            yield "video", self._convert(pending, index, start_pts, frame.pts - pending.pts)
                            pending = None
                        return
                    if pending is not None:
                        yield "video", self._convert(pending, index, start_pts, frame.pts - pending.pts)
                        index += 1
                    pending = frame
            for frame in self._decode(None):
                if frame.pts is None or float(frame.pts * self.time_base) >= end - 1e-6:
                    continue
                if float(frame.pts * self.time_base) < start - 1e-6:
                    continue
                if pending is not None:
                    yield "video", self._convert(pending, index, start_pts, frame.pts - pending.pts)
                    index += 1
                pending = frame
        except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
            if index == 0 and pending is None:
                raise VideoError(f"cannot decode {self.path}: {_reason(exc)}") from None
            self.notes.append(f"the input is damaged after frame {index}: {_reason(exc)}; stopped there")
        if pending is not None:
            last = pending.duration or 0
            if not last:
                last = int(round(1 / (self.rate * self.time_base))) if self.rate else 0
            if self.config.duration:
                last = max(1, min(last, int(round(end / self.time_base)) - pending.pts))
            yield "video", self._convert(pending, index, start_pts, last)
        elif index == 0:
            raise VideoError(f"{self.path} has no video frames" + (f" after {start:g} s" if start else ""))

    def _decode(self, packet: Any) -> Iterator[Any]:
        av = require("av", "video")
        try:
            yield from (self.stream.decode(packet) if packet is not None else self.stream.decode(None))
        except av.error.EOFError:  # type: ignore[attr-defined]
            return  # already flushed by the demuxer's final empty packet
        except av.error.InvalidDataError:  # type: ignore[attr-defined]
            if packet is None:
                return
            self.notes.append("skipped a damaged packet of the input")

    def _convert(self, frame: Any, index: int, start_pts: int, duration: int) -> Tuple[np.ndarray, int, int, int]:
        self.rotation = frame.rotation
        pixels = upright(frame.to_ndarray(format="rgb24"), frame.rotation)
        pixels = _resize(pixels, self._shape(*pixels.shape[:2]))
        return pixels, int(frame.pts) - start_pts, max(0, int(duration)), index

    def _folder_frames(self) -> Iterator[Tuple[str, Any]]:
        from ..imaging.io import load_array

        first: Optional[Tuple[int, int]] = None
        for i, name in enumerate(self._files):
            pixels = _as_uint8(load_array(name))
            if first is None:
                first = pixels.shape[:2]
            elif pixels.shape[:2] != first:
                raise VideoError(
                    f"frame {name} is {pixels.shape[1]}x{pixels.shape[0]}, the first was "
                    f"{first[1]}x{first[0]}: all frames must have one size"
                )
            yield "video", (_resize(pixels, self._shape(*first)), i, 1, i)


def _as_uint8(array: Any) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype != np.uint8:
        a = np.rint(np.clip(a.astype(np.float32), 0, 1) * 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    return np.ascontiguousarray(a[..., :3])


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(text))
    return " ".join(text.split()) or type(exc).__name__


__all__ = ["FRAME_SUFFIXES", "Frame", "VideoSource", "upright", "working_shape"]
