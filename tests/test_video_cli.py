"""``painterly video`` end to end: in-process runs, one-line errors, Ctrl-C in a real process, --resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("cv2")

from painterly.cli.main import main  # noqa: E402
from test_video import probe, texture, write_clip  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli_clips")
    return write_clip(root / "clip.mp4", texture(64, 96, 10), audio_seconds=0.4)


def _error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("painterly: error: ")
    return err[0]


def test_cli_paints_a_video(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(out), "--model", "wave"]) == 0
    captured = capsys.readouterr()
    assert f"wrote {out} (10 frames, 96x64, consistent)" in captured.out
    assert "frames/s" in captured.err and "10/10 frames" in captured.err  # the progress bar
    info = probe(out)
    assert len(info["frames"]) == 10 and info["audio"]


def test_cli_per_frame_and_settings(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "frames"
    code = main(["video", str(clip), "-o", str(out), "-m", "wave", "--consistency", "none", "--size", "48",
                 "--duration", "0.2", "-q"])
    assert code == 0
    assert capsys.readouterr().out == ""
    files = sorted(out.glob("*.png"))
    assert len(files) == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["video", "{clip}", "-o", "{tmp}/o.mp4"], "needs --model NAME, --style-image IMAGE or --transfer STYLE"),
        (["video", "{tmp}/missing.mov", "-o", "{tmp}/o.mp4", "-m", "wave"], "video not found"),
        (["video", "{text}", "-o", "{tmp}/o.mp4", "-m", "wave"], "as a video"),
        (["video", "{clip}", "-o", "{tmp}/o.avi2", "-m", "wave"], "cannot write a video as '.avi2'"),
        (["video", "{clip}", "-o", "{tmp}/o.mp4", "-m", "wave", "--blend", "2"], "--blend must be between"),
        (["video", "{clip}", "-o", "{tmp}/o.mp4", "-m", "nosuchmodel"], "nosuchmodel"),
        (["video", "{clip}", "-o", "{tmp}/o.mp4", "-m", "wave", "--transfer", "{text}"], "cannot be combined"),
    ],
)
def test_cli_errors_are_one_line(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args: list, message: str
) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("hello\n" * 100)
    argv = [a.format(clip=clip, tmp=tmp_path, text=text) for a in args]
    code = main(argv)
    assert code in (1, 2)
    assert message in _error_line(capsys)
    assert not (tmp_path / "o.mp4").exists()


def test_cli_transfer_on_a_short_clip(clip: Path, style_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "t"
    code = main(["video", str(clip), "-o", str(out), "--transfer", str(style_path), "--size", "32",
                 "--duration", "0.12", "--iterations", "6", "--no-multiscale", "-q"])
    assert code == 0
    assert len(list(out.glob("*.png"))) == 3


def test_ctrl_c_leaves_a_playable_video_and_resume_finishes_it(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "long.mp4", texture(64, 96, 120, dx=1, dy=0), audio_seconds=4.8)
    out = tmp_path / "out.mp4"
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "painterly", "video", str(clip), "-o", str(out), "-m", "wave", "--size", "192"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / ".out.painterly-partial.mp4"
    deadline = time.monotonic() + 60
    while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: stopped after" in err and "--resume" in err
    done = probe(out)
    assert 0 < len(done["frames"]) < 120 and done["audio"]
    assert not partial.exists()
    finished = subprocess.run(cmd + ["--resume", "-q"], env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    info = probe(out)
    assert len(info["frames"]) == 120
    assert np.allclose(info["times"], probe(clip)["times"])
    assert info["audio"] == probe(clip)["audio"]
    assert not (tmp_path / "out.mp4.painterly-resume").exists()
