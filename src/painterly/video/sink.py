"""Writing the painted frames: a video container (through PyAV) or a folder of PNG frames.

The output's extension picks the format:

========  =========  ===================  ==========================
suffix    container  video codec          audio
========  =========  ===================  ==========================
.mp4 .m4v mp4        H.264 yuv420p (crf)  copied; else AAC
.mov      mov        H.264 yuv420p        copied; else AAC
.mkv      matroska   H.264 yuv420p        copied (anything goes)
.webm     webm       VP9 yuv420p (crf)    copied if Opus/Vorbis; else Opus
.gif      gif        GIF (per-frame palette) none
(none)    folder     PNG frames           none
========  =========  ===================  ==========================

Frames keep the input's timestamps (``pts`` in the input stream's time base,
so variable frame rates survive) and each packet its frame's duration, so the
output lasts as long as the input. yuv420p needs even sizes: an odd width or
height is padded by one pixel (a copy of the last column / row), and a note
says so. A container is written to a hidden temporary file beside the output
and renamed over it when closed, also when the run is stopped, so the output
is always a complete, playable file.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import OutputError, require

#: suffix -> (FFmpeg format, video codec)
CONTAINERS: Dict[str, Tuple[str, str]] = {
    ".mp4": ("mp4", "libx264"),
    ".m4v": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".webm": ("webm", "libvpx-vp9"),
    ".gif": ("gif", "gif"),
}
#: Audio codec written when the container refuses the input's (re-encoding).
AUDIO_FALLBACK = {"mp4": "aac", "mov": "aac", "matroska": "aac", "webm": "libopus"}
#: Default constant rate factor per video codec (visually lossless for H.264).
DEFAULT_CRF = {"libx264": 18, "libvpx-vp9": 31}
#: GIF timestamps are in hundredths of a second.
GIF_TIME_BASE = Fraction(1, 100)


def output_kind(path: Path) -> str:
    """``folder`` (PNG frames) or the suffix of a supported container.

    Raises:
        OutputError: an unsupported suffix.
    """
    text = str(path)
    if text.endswith(("/", os.sep)) or path.is_dir() or not path.suffix:
        return "folder"
    suffix = path.suffix.lower()
    if suffix not in CONTAINERS:
        raise OutputError(
            f"cannot write a video as '{suffix}' ({path}); use {', '.join(CONTAINERS)} "
            "or a folder name without an extension for PNG frames"
        )
    return suffix


def check_output(path: Path) -> str:
    """Validate the output path before any work; returns :func:`output_kind`.

    Raises:
        OutputError: unsupported suffix, missing parent folder, a file where a folder
            should be, or a folder that cannot be written.
    """
    kind = output_kind(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"the output folder {parent} does not exist")
    if kind == "folder":
        if path.exists() and not path.is_dir():
            raise OutputError(f"{path} is a file; a folder of PNG frames needs a folder name")
        target = path if path.is_dir() else parent
    else:
        if path.is_dir():
            raise OutputError(f"{path} is a folder; give a file name such as {path / 'out.mp4'}")
        target = parent
    if not os.access(target, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {target}: permission denied")
    return kind


def even_shape(height: int, width: int) -> Tuple[int, int]:
    """(h, w) rounded up to even numbers (what yuv420p needs)."""
    return height + height % 2, width + width % 2


def pad_even(pixels: np.ndarray) -> np.ndarray:
    """Pad an odd height or width by one copied row / column."""
    h, w = pixels.shape[:2]
    if not (h % 2 or w % 2):
        return pixels
    return np.pad(pixels, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


class FolderSink:
    """PNG frames ``000000.png``, ``000001.png``, ... in a folder (created if missing).

    Args:
        path: the folder.
        notes: list to append remarks to.
    """

    kind = "folder"

    def __init__(self, path: Path, notes: List[str]) -> None:
        self.path = path
        self.notes = notes
        try:
            path.mkdir(exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the folder {path}: {exc.strerror or exc}") from None
        self.frames = 0

    def frame_path(self, index: int) -> Path:
        """Where frame ``index`` (0-based) goes."""
        return self.path / f"{index:06d}.png"

    def write(self, pixels: np.ndarray, pts: int, duration: int) -> None:
        """Write the next frame (uint8 (H, W, 3) RGB); timestamps are implied by the order."""
        from PIL import Image

        from ..imaging.io import save_image

        save_image(Image.fromarray(pixels), self.frame_path(self.frames))
        self.frames += 1

    def skip(self, count: int) -> None:
        """Count ``count`` frames already in the folder (resume)."""
        self.frames += count

    def write_audio(self, packet: Any) -> None:
        """Audio has no place in a folder of frames; dropped."""

    def close(self) -> None:
        """Nothing to finish: each frame was written atomically."""

    abort = close


class ContainerSink:
    """A video file written frame by frame through PyAV, with the input's audio.

    Args:
        path: the output file.
        shape: (height, width) of the frames to be written.
        time_base: unit of the ``pts`` given to :meth:`write`.
        rate: nominal frame rate (frames/s), a hint for the encoder and container.
        crf: quality (0: the codec's default).
        audio: the input's audio stream to copy (or None).
        audio_start: seconds of the input where the output starts (audio shifted back by it).
        audio_end: seconds of the input where the output ends (inf: to the end).
        notes: list to append remarks to (padding, audio re-encoded or dropped).
    """

    kind = "container"

    def __init__(
        self,
        path: Path,
        shape: Tuple[int, int],
        time_base: Fraction,
        rate: Fraction,
        *,
        crf: int = 0,
        audio: Any = None,
        audio_start: float = 0.0,
        audio_end: float = float("inf"),
        notes: Optional[List[str]] = None,
    ) -> None:
        av = require("av", "video")
        self.av = av
        self.path = path
        self.notes = notes if notes is not None else []
        self.format, self.codec = CONTAINERS[path.suffix.lower()]
        self.temp = path.with_name(f".{path.stem}.painterly-partial{path.suffix}")
        h, w = shape
        self.pad = self.codec != "gif" and (h % 2 or w % 2)
        if self.pad:
            eh, ew = even_shape(h, w)
            self.notes.append(f"the frames are {w}x{h}; padded to {ew}x{eh} by one copied pixel (yuv420p needs even sizes)")
            h, w = eh, ew
        try:
            self.out = av.open(str(self.temp), "w", format=self.format)  # type: ignore[attr-defined]
        except (av.error.FFmpegError, OSError) as exc:  # type: ignore[attr-defined]
            raise OutputError(f"cannot write {path}: {exc}") from None
        self.time_base = GIF_TIME_BASE if self.codec == "gif" else Fraction(time_base)
        self.in_time_base = Fraction(time_base)
        stream = self.out.add_stream(self.codec, rate=rate)
        stream.width, stream.height = w, h
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        if self.codec == "gif":
            stream.pix_fmt = "pal8"
        else:
            stream.pix_fmt = "yuv420p"
            quality = str(crf or DEFAULT_CRF[self.codec])
            if self.codec == "libx264":
                stream.options = {"crf": quality, "preset": "fast"}
            else:
                stream.options = {"crf": quality, "b": "0", "deadline": "good", "cpu-used": "5", "row-mt": "1"}
        self.stream = stream
        self.audio_in = audio
        self.audio_out: Any = None
        self.transcoder: Any = None
        self.audio_start, self.audio_end = audio_start, audio_end
        if audio is not None:
            self._add_audio(audio)
        self._durations: Dict[int, int] = {}
        self._last_pts: Optional[int] = None
        self.frames = 0
        self.audio_packets = 0
        self._open = True

    # -- audio -------------------------------------------------------------

    def _add_audio(self, audio: Any) -> None:
        name = audio.codec_context.name
        if self.codec == "gif":
            self.notes.append("GIF has no sound: the audio track is dropped")
            self.audio_in = None
            return
        if name in self.out.supported_codecs:
            self.audio_out = self.out.add_stream_from_template(audio)
            return
        fallback = AUDIO_FALLBACK[self.format]
        self.notes.append(f"{self.format} cannot hold {name} audio: re-encoded as {fallback.replace('lib', '')}")
        self.transcoder = _AudioTranscoder(self.out, audio, fallback)
        self.audio_out = self.transcoder.stream

    def write_audio(self, packet: Any) -> None:
        """Copy one input audio packet (or re-encode it), shifted by the start offset; outside the range: dropped."""
        if self.audio_out is None or packet.pts is None:
            return
        t = float(packet.pts * packet.time_base)
        # Keep the encoder-priming packets at negative times when painting from the start.
        if (self.audio_start > 0 and t < self.audio_start - 1e-6) or t >= self.audio_end - 1e-6:
            return
        if self.transcoder is not None:
            self.transcoder.feed(packet)
            return
        shift = int(round(self.audio_start / packet.time_base)) if self.audio_start else 0
        packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self.audio_out
        self.out.mux(packet)
        self.audio_packets += 1

    # -- video -------------------------------------------------------------

    def write(self, pixels: np.ndarray, pts: int, duration: int) -> None:
        """Encode the next frame.

        Args:
            pixels: uint8 (H, W, 3) RGB of the shape given at creation.
            pts: its timestamp in the input time base (strictly increasing).
            duration: how long it shows in the same units (0: until the next frame).
        """
        av = self.av
        if self.pad:
            pixels = pad_even(pixels)
        if self.codec == "gif":
            frame = _palette_frame(pixels)
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")  # type: ignore[attr-defined]
        out_pts = int(round(pts * self.in_time_base / self.time_base))
        out_duration = int(round(duration * self.in_time_base / self.time_base)) if duration else 0
        if self._last_pts is not None and out_pts <= self._last_pts:
            out_pts = self._last_pts + 1  # GIF's 1/100 s can merge two frames' times: keep both
        self._last_pts = out_pts
        frame.pts = out_pts
        frame.time_base = self.time_base
        if out_duration:
            self._durations[out_pts] = max(1, out_duration)
        self._mux(self.stream.encode(frame))
        self.frames += 1

    def _mux(self, packets: Any) -> None:
        for packet in packets:
            if packet.pts is not None and packet.pts in self._durations:
                packet.duration = self._durations.pop(packet.pts)
            self.out.mux(packet)

    def close(self) -> None:
        """Flush the encoders, finish the file and move it to the output path."""
        if not self._open:
            return
        self._open = False
        try:
            self._mux(self.stream.encode(None))
            if self.transcoder is not None:
                self.transcoder.flush()
            self.out.close()
        except BaseException:
            self._discard()
            raise
        if self.frames == 0:
            self._discard()
            return
        try:
            os.replace(self.temp, self.path)
        except OSError as exc:
            self._discard()
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def abort(self) -> None:
        """Give up: close and delete the temporary file, leaving the output path untouched."""
        if self._open:
            self._open = False
            try:
                self.out.close()
            except Exception:  # noqa: BLE001 - already failing; the temp file goes anyway
                pass
        self._discard()

    def _discard(self) -> None:
        try:
            self.temp.unlink()
        except OSError:
            pass


def _palette_frame(pixels: np.ndarray) -> Any:
    """A GIF frame: the picture quantized to its own 256-colour palette (dithered)."""
    import av
    from PIL import Image

    image = Image.fromarray(pixels).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    indices = np.asarray(image, dtype=np.uint8)
    rgb = np.zeros((256, 3), np.uint8)
    palette = np.frombuffer(bytes(image.getpalette() or []), np.uint8)
    palette = palette[: (len(palette) // 3) * 3].reshape(-1, 3)[:256]
    rgb[: len(palette)] = palette
    argb = np.concatenate([np.full((256, 1), 255, np.uint8), rgb], axis=1)
    return av.VideoFrame.from_ndarray((np.ascontiguousarray(indices), argb), format="pal8")


class _AudioTranscoder:
    """Decode the input's audio and encode it as a codec the container accepts."""

    def __init__(self, out: Any, audio: Any, codec: str) -> None:
        import av

        self.out = out
        rate = audio.codec_context.sample_rate or 48000
        if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
            rate = 48000
        self.stream = out.add_stream(codec, rate=rate)
        layout = audio.codec_context.layout.name if audio.codec_context.layout else "stereo"
        self.stream.layout = layout
        self.decoder = av.CodecContext.create(audio.codec_context.name, "r")
        if audio.codec_context.extradata:
            self.decoder.extradata = audio.codec_context.extradata
        self.decoder.sample_rate = audio.codec_context.sample_rate
        self.decoder.layout = layout
        self.resampler = av.AudioResampler(format=self.stream.format.name, layout=layout, rate=rate)
        self.fifo = av.AudioFifo()
        self.frame_size = 0

    def _encode(self, frames: Any) -> None:
        for frame in frames:
            for piece in self.resampler.resample(frame):
                piece.pts = None
                self.fifo.write(piece)
        size = self.stream.codec_context.frame_size or 1024
        while self.fifo.samples >= size:
            chunk = self.fifo.read(size)
            chunk.pts = None
            for packet in self.stream.encode(chunk):
                self.out.mux(packet)

    def feed(self, packet: Any) -> None:
        import av

        try:
            self._encode(self.decoder.decode(packet))
        except av.error.InvalidDataError:
            pass

    def flush(self) -> None:
        self._encode(self.decoder.decode(None))
        rest = self.fifo.read()
        if rest is not None:
            rest.pts = None
            for packet in self.stream.encode(rest):
                self.out.mux(packet)
        for packet in self.stream.encode(None):
            self.out.mux(packet)


__all__ = ["CONTAINERS", "ContainerSink", "FolderSink", "check_output", "even_shape", "output_kind", "pad_even"]
