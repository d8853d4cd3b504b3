"""Video: frame I/O, timestamps, audio, rotation, sizes, formats, consistency, cancel and resume.

Clips are synthesized in the tests with PyAV (real codecs): a photo panning by a
known number of pixels per frame, some with AAC audio, variable frame rate,
rotation metadata or an odd size. Frames are painted by the bundled ``wave``
model (ONNX, milliseconds per 96 px frame).
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("cv2")

from conftest import DATA  # noqa: E402

from painterly.errors import Cancelled, OutputError, UsageError  # noqa: E402
from painterly.video import VideoConfig, stylize_video  # noqa: E402
from painterly.video.errors import VideoError, VideoNotFoundError  # noqa: E402
from painterly.video.metrics import WarpingError  # noqa: E402

MODEL = "wave"


def texture(height: int, width: int, frames: int, dx: int = 2, dy: int = 1) -> list:
    """``frames`` uint8 (height, width, 3) crops of the bundled photo, shifted by (dx, dy) px per frame."""
    from PIL import Image

    photo = Image.open(DATA / "chelsea.jpg").convert("RGB")
    need_w, need_h = width + abs(dx) * frames + 2, height + abs(dy) * frames + 2
    scale = max(need_w / photo.width, need_h / photo.height, 0.25)
    photo = photo.resize((max(need_w, round(photo.width * scale)), max(need_h, round(photo.height * scale))))
    big = np.asarray(photo)
    out = []
    for i in range(frames):
        x, y = 1 + i * abs(dx), 1 + i * abs(dy)
        out.append(np.ascontiguousarray(big[y:y + height, x:x + width]))
    return out


def write_clip(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    pts_ms: Optional[Sequence[int]] = None,
    fps: int = 25,
    codec: str = "libx264",
    audio_seconds: float = 0.0,
    rotation: int = 0,
    last_ms: int = 0,
) -> Path:
    """Encode ``frames`` to ``path``; timestamps in milliseconds (VFR when irregular); optional AAC tone."""
    import av

    out = av.open(str(path), "w")
    h, w = frames[0].shape[:2]
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height = w, h
    stream.pix_fmt = "yuv420p" if codec == "libx264" else "bgr0"
    tb = Fraction(1, 1000)
    stream.time_base = tb
    stream.codec_context.time_base = tb
    if codec == "libx264":
        stream.options = {"crf": "12", "preset": "ultrafast"}
    if rotation:
        stream.set_display_rotation(rotation)
    audio = out.add_stream("aac", rate=16000) if audio_seconds else None
    if audio is not None:
        audio.layout = "mono"
    pts_ms = list(pts_ms) if pts_ms is not None else [round(i * 1000 / fps) for i in range(len(frames))]
    for i, (pixels, pts) in enumerate(zip(frames, pts_ms)):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
        frame.pts, frame.time_base = pts, tb
        if i == len(frames) - 1 and last_ms:
            frame.duration = last_ms
        for packet in stream.encode(frame):
            if i and packet.pts == pts and last_ms:
                packet.duration = last_ms
            out.mux(packet)
    for packet in stream.encode(None):
        if last_ms and packet.pts == pts_ms[-1]:
            packet.duration = last_ms
        out.mux(packet)
    if audio is not None:
        n = int(16000 * audio_seconds)
        t = np.arange(n) / 16000
        tone = (0.3 * np.sin(2 * math.pi * 440 * t) * np.linspace(0.2, 1, n)).astype(np.float32)[None]
        _mux_tone(out, audio, tone)
    out.close()
    return path


def _mux_tone(out, audio, tone: np.ndarray) -> None:
    """Encode a mono float tone (1, n) at 16 kHz into ``audio`` in 1024-sample frames and mux it, flushed."""
    import av

    for k in range(0, tone.shape[1], 1024):
        chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, k:k + 1024]), format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 16000, k
        for packet in audio.encode(chunk):
            out.mux(packet)
    for packet in audio.encode(None):
        out.mux(packet)


def audio_only(path: Path) -> Path:
    """An .m4a file with sound and no video stream."""
    import av

    out = av.open(str(path), "w")
    audio = out.add_stream("aac", rate=16000)
    audio.layout = "mono"
    _mux_tone(out, audio, np.zeros((1, 4096), np.float32))
    out.close()
    return path


def probe(path: Path) -> dict:
    """Frames (pixels, seconds), rotation, size, duration and audio packets of a video file."""
    import av

    info: dict = {"frames": [], "times": [], "audio": [], "audio_codec": None}
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info["size"] = (v.codec_context.width, v.codec_context.height)
        info["duration"] = (c.duration or 0) / 1e6
        for frame in c.decode(v):
            info["frames"].append(frame.to_ndarray(format="rgb24"))
            info["times"].append(float(frame.pts * frame.time_base))
            info["rotation"] = frame.rotation
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            info["audio_codec"] = a.codec_context.name
            info["audio"] = [(p.pts, bytes(p)) for p in c.demux(a) if p.size]
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        last = None
        for p in c.demux(v):
            if p.pts is not None and (last is None or p.pts >= last[0]):
                last = (p.pts, p.duration, p.time_base)
        info["end"] = float((last[0] + (last[1] or 0)) * last[2]) if last else 0.0
    return info


# -- fixtures ----------------------------------------------------------------------

#: Irregular timestamps (ms): a variable-frame-rate clip.
VFR_PTS = [0, 40, 80, 150, 190, 230, 300, 340, 380, 420, 500, 540]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("clips")
    moving = texture(64, 96, 12)
    return {
        "vfr": write_clip(root / "vfr.mp4", moving, pts_ms=VFR_PTS, audio_seconds=0.6, last_ms=60),
        "odd": write_clip(root / "odd.mkv", [f[:63, :95] for f in moving[:6]], codec="ffv1"),
        "rotated": write_clip(root / "rotated.mp4", moving[:5], rotation=90),
        "long": write_clip(root / "long.mp4", texture(64, 96, 40, dx=1, dy=0), audio_seconds=1.6),
        "root": root,
    }


@pytest.fixture(scope="module")
def painter() -> Any:
    from painterly.config import StylizeConfig
    from painterly.jobs.painters import make_painter

    return make_painter("stylize", StylizeConfig(model=MODEL))


def _run(painter: Any, src: Path, out: Path, **video: Any) -> Any:
    from painterly.video.run import run_video

    return run_video(painter, src, out, VideoConfig(**video))


def _pngs(folder: Path) -> list:
    from PIL import Image

    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]


# -- I/O ---------------------------------------------------------------------------


def test_frames_timestamps_duration_and_audio_packets_kept(clips: dict, painter: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = _run(painter, clips["vfr"], out)
    src, dst = probe(clips["vfr"]), probe(out)
    assert result.frames == len(dst["frames"]) == len(src["frames"]) == 12
    assert dst["times"] == pytest.approx(src["times"], abs=1e-6)  # variable frame rate kept
    assert dst["end"] == pytest.approx(src["end"], abs=1e-3)  # the last frame's duration too
    assert dst["duration"] == pytest.approx(src["duration"], abs=0.02)
    assert src["audio"] and dst["audio"] == src["audio"]  # copied packet for packet
    assert dst["size"] == (96, 64)
    assert not np.array_equal(dst["frames"][3], src["frames"][3])  # actually painted
    assert not result.notes


def test_rotation_metadata_is_applied(clips: dict, painter: Any, tmp_path: Path) -> None:
    out = tmp_path / "rot"
    result = _run(painter, clips["rotated"], out, consistency="none")
    frames = _pngs(out)
    assert len(frames) == 5 and frames[0].shape == (96, 64, 3)  # upright: portrait
    assert result.size == (64, 96)
    src = probe(clips["rotated"])
    assert src["rotation"] == 90 and src["size"] == (96, 64)
    # The painted frame matches the upright source, not the stored one.
    upright = np.rot90(src["frames"][0], 1).astype(float)
    painted = frames[0].astype(float)
    gray = lambda a: a.mean(-1)  # noqa: E731
    corr = np.corrcoef(gray(upright).ravel(), gray(painted).ravel())[0, 1]
    flipped = np.corrcoef(gray(upright[::-1, ::-1]).ravel(), gray(painted).ravel())[0, 1]
    assert corr > 0.3 and corr > flipped + 0.2


def test_odd_size_is_padded_for_h264_and_kept_in_png_frames(clips: dict, painter: Any, tmp_path: Path) -> None:
    result = _run(painter, clips["odd"], tmp_path / "odd.mp4")
    info = probe(tmp_path / "odd.mp4")
    assert info["size"] == (96, 64) and len(info["frames"]) == 6
    assert any("95x63" in n and "96x64" in n for n in result.notes)
    _run(painter, clips["odd"], tmp_path / "odd_frames")
    frames = _pngs(tmp_path / "odd_frames")
    assert len(frames) == 6 and frames[0].shape == (63, 95, 3)


def test_gif_and_png_folder_outputs(clips: dict, painter: Any, tmp_path: Path) -> None:
    result = _run(painter, clips["vfr"], tmp_path / "out.gif")
    info = probe(tmp_path / "out.gif")
    assert len(info["frames"]) == 12 and info["size"] == (96, 64)
    assert info["times"] == pytest.approx(VFR_PTS and [t / 1000 for t in VFR_PTS], abs=0.011)
    assert any("GIF has no sound" in n for n in result.notes)
    _run(painter, clips["vfr"], tmp_path / "frames")
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == [f"{i:06d}.png" for i in range(12)]


def test_folder_of_frames_as_input_and_webm_output(clips: dict, painter: Any, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    for i, pixels in enumerate(texture(48, 64, 6)):
        Image.fromarray(pixels).save(folder / f"f{i + 1}.png")  # natural order: f1 .. f6
    result = _run(painter, folder, tmp_path / "out.webm", fps=12)
    info = probe(tmp_path / "out.webm")
    assert len(info["frames"]) == 6 and info["size"] == (64, 48)
    assert info["times"] == pytest.approx([i / 12 for i in range(6)], abs=1e-3)
    assert result.frames == 6
    # AAC audio cannot go into WebM: re-encoded as Opus, and said so.
    result = _run(painter, clips["vfr"], tmp_path / "a.webm")
    info = probe(tmp_path / "a.webm")
    assert info["audio_codec"] == "opus" and info["audio"]
    assert any("re-encoded as opus" in n for n in result.notes)


def test_start_duration_size_and_fps(clips: dict, painter: Any, tmp_path: Path) -> None:
    out = tmp_path / "part.mp4"
    result = _run(painter, clips["long"], out, start=0.4, duration=0.6, size=48)
    info = probe(out)
    assert len(info["frames"]) == result.frames == 15  # 25 frames/s
    assert info["size"] == (48, 32)
    assert info["times"][0] == pytest.approx(0.0, abs=1e-3)
    src = probe(clips["long"])
    # The audio packets of the range, shifted by the start, bytes unchanged.
    kept = dict(src["audio"])
    assert info["audio"] and all(kept.get(pts + round(0.4 * 16000)) == data for pts, data in info["audio"])
    from painterly.video.run import run_video

    resampled = _run(painter, clips["long"], tmp_path / "fps.mp4", fps=10)
    times = probe(tmp_path / "fps.mp4")["times"]
    assert resampled.frames == len(times) == 16 and times[1] == pytest.approx(0.1, abs=1e-3)
    # Up-sampled: each input frame is written twice, painted once, and every frame is reported.
    steps: list = []
    doubled = run_video(painter, clips["long"], tmp_path / "fps50.mp4", VideoConfig(fps=50, duration=0.2),
                        on_progress=lambda e: steps.append(e.step))
    assert doubled.frames == len(probe(tmp_path / "fps50.mp4")["times"]) == 10
    assert steps == list(range(1, 11))


# -- consistency --------------------------------------------------------------------


def test_consistency_lowers_the_warping_error(painter: Any, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "pan"
    folder.mkdir()
    frames = texture(72, 96, 10, dx=2, dy=1)
    for i, pixels in enumerate(frames):
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    errors = {}
    for mode in ("flow", "none"):
        _run(painter, folder, tmp_path / mode, consistency=mode)
        meter = WarpingError()
        for source, output in zip(frames, _pngs(tmp_path / mode)):
            meter.add(source, output)
        errors[mode] = meter.value
    assert errors["flow"] < 0.6 * errors["none"], errors


def test_blend_keeps_detail_and_follows_motion() -> None:
    from painterly.video.temporal import BlendSettings, TemporalBlender

    rng = np.random.default_rng(0)
    base = (rng.random((80, 120, 3)) * 255).astype(np.uint8)
    photo = [np.roll(base, 3 * i, axis=1) for i in range(4)]
    painted = [np.roll(base, 3 * i, axis=1) for i in range(4)]
    painted[3] = (rng.random((80, 120, 3)) * 255).astype(np.uint8)  # a frame that "boils"
    blender = TemporalBlender(BlendSettings())
    outs = [blender(p, s) for p, s in zip(photo, painted)]
    assert np.abs(outs[2].astype(int) - painted[2])[:, 10:-10].mean() < 6  # the motion is followed
    # The boiling frame is pulled towards the moved previous output, not averaged into grey.
    inner = (slice(None), slice(12, -12))
    assert np.abs(outs[3][inner].astype(int) - np.roll(outs[2], 3, axis=1)[inner]).mean() < \
        0.5 * np.abs(painted[3][inner].astype(int) - np.roll(outs[2], 3, axis=1)[inner]).mean()
    assert outs[3][inner].astype(float).std() > 0.8 * painted[3][inner].astype(float).std()


# -- stop and resume -----------------------------------------------------------------


class _StopAfter:
    def __init__(self, frames: int) -> None:
        self.frames, self.event = frames, threading.Event()

    def __call__(self, event: Any) -> None:
        assert event.kind == "video"
        if event.step >= self.frames:
            self.event.set()


def _stopped(painter: Any, src: Path, out: Path, frames: int, **video: Any) -> Any:
    from painterly.video.run import run_video

    stop = _StopAfter(frames)
    with pytest.raises(Cancelled) as info:
        run_video(painter, src, out, VideoConfig(**video), on_progress=stop, cancel=stop.event)
    return info.value.result


def test_cancel_leaves_a_playable_video(clips: dict, painter: Any, tmp_path: Path) -> None:
    out = tmp_path / "cut.mp4"
    result = _stopped(painter, clips["long"], out, 5)
    # Frame 6 was painting when frame 5's event stopped the run: it is kept too.
    assert result.cancelled and result.frames == 6
    info = probe(out)
    assert len(info["frames"]) == 6 and info["audio"]
    assert (tmp_path / "cut.mp4.painterly-resume" / "state.json").is_file()
    assert not list(tmp_path.glob(".*partial*"))  # no temporary file left behind


def test_resume_equals_an_uninterrupted_run(clips: dict, painter: Any, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    _run(painter, clips["vfr"], whole)
    part = tmp_path / "part"
    _stopped(painter, clips["vfr"], part, 5)
    assert len(_pngs(part)) == 6
    result = _run(painter, clips["vfr"], part, resume=True)
    assert result.resumed_from == 6 and result.painted == 6 and result.frames == 12
    for a, b in zip(_pngs(whole), _pngs(part)):
        assert np.array_equal(a, b)  # lossless frames: exactly the same video
    assert not (tmp_path / "part.painterly-resume").exists()
    # A compressed container: the same up to one more encode of the finished part.
    _run(painter, clips["vfr"], tmp_path / "whole.mp4")
    _stopped(painter, clips["vfr"], tmp_path / "part.mp4", 4)
    _run(painter, clips["vfr"], tmp_path / "part.mp4", resume=True)
    a, b = probe(tmp_path / "whole.mp4"), probe(tmp_path / "part.mp4")
    assert len(a["frames"]) == len(b["frames"]) == 12 and a["times"] == b["times"] and a["audio"] == b["audio"]
    lossless = _pngs(whole)
    error = lambda frames: np.mean([np.abs(x.astype(int) - y).mean() for x, y in zip(frames, lossless)])  # noqa: E731
    assert error(b["frames"]) < 1.25 * error(a["frames"])  # H.264's own loss, plus little


def test_resume_refuses_other_settings(clips: dict, painter: Any, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    _stopped(painter, clips["vfr"], out, 3)
    with pytest.raises(UsageError, match="--blend"):
        _run(painter, clips["vfr"], out, resume=True, blend=0.5)


# -- bad input -----------------------------------------------------------------------


def test_bad_inputs_and_outputs_give_clear_errors(clips: dict, painter: Any, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    with pytest.raises(VideoError, match="cannot read .*notes.mp4 as a video"):
        _run(painter, text, tmp_path / "o.mp4")
    with pytest.raises(VideoNotFoundError, match="not found"):
        _run(painter, tmp_path / "missing.mp4", tmp_path / "o.mp4")
    with pytest.raises(VideoError, match="no video stream"):
        _run(painter, audio_only(tmp_path / "sound.m4a"), tmp_path / "o.mp4")
    with pytest.raises(OutputError, match="'.xyz'"):
        _run(painter, clips["vfr"], tmp_path / "o.xyz")
    with pytest.raises(OutputError, match="does not exist"):
        _run(painter, clips["vfr"], tmp_path / "no" / "such" / "o.mp4")
    with pytest.raises(VideoError, match="past the end"):
        _run(painter, clips["vfr"], tmp_path / "o.mp4", start=5)
    assert not (tmp_path / "o.mp4").exists()


def test_config_validation() -> None:
    from painterly.errors import ConfigError

    with pytest.raises(ConfigError, match="blend"):
        VideoConfig(blend=1.5)
    with pytest.raises(ConfigError, match="consistency"):
        VideoConfig(consistency="magic")
    with pytest.raises(ConfigError, match="fps"):
        VideoConfig(fps=-1)


def test_stylize_video_api_with_a_style_image(clips: dict, style_path: Path, tmp_path: Path) -> None:
    events = []
    result = stylize_video(
        clips["rotated"], tmp_path / "a.mp4", style_images=[style_path], on_progress=events.append,
        video=VideoConfig(size=64),
    )
    assert result.frames == 5 and result.painter.startswith("adain")
    assert [e.step for e in events] == [1, 2, 3, 4, 5] and events[-1].kind == "video"
    assert events[-1].preview() is not None and events[-1].rate > 0


# -- flow maths ----------------------------------------------------------------------


def test_warp_and_occlusion_tests_on_known_flows() -> None:
    from painterly.video.flow import consistent, inside, motion_boundary, visible, warp

    rng = np.random.default_rng(1)
    image = rng.random((20, 30, 3)).astype(np.float32)
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = 2.0  # each pixel of A is found 2 px to the right in B
    shifted = warp(image, flow)
    assert np.allclose(shifted[:, :-2], image[:, 2:])
    assert inside(flow)[:, :28].all() and not inside(flow)[:, 28:].any()
    back = -flow
    assert consistent(flow, back)[:, :28].all()
    assert not consistent(flow, np.zeros_like(flow)).any()  # |F + B|^2 = 4 > 0.01 * 4 + 0.5
    step = np.zeros_like(flow)
    step[:, 15:, 0] = 5.0  # a moving object's edge
    edge = motion_boundary(step)
    assert edge[:, 14:16].all() and not edge[:, :13].any() and not edge[:, 17:].any()
    assert visible(flow, back)[:, :28].all()
