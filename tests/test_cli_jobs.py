"""The CLI on the job layer: --json, --save-config, and SIGTERM stopping training through the cancel event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from painterly.cli.main import main


def test_stylize_json_reports_every_input(tmp_path, content_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(content_path).save(folder / "a.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    code = main(["stylize", str(folder), "-o", str(tmp_path / "out"), "--model", "wave", "--json", "--save-config"])
    out = capsys.readouterr().out
    report = json.loads(out)
    assert code == 1  # one input failed
    by_name = {Path(i["input"]).name: i for i in report["items"]}
    assert by_name["a.png"]["status"] == "done" and by_name["broken.jpg"]["status"] == "failed"
    assert by_name["broken.jpg"]["error"]
    saved = json.loads((tmp_path / "out" / "a.png.json").read_text())
    assert saved["model"] == "wave"
    # --config reads the saved settings back
    assert main(["stylize", str(folder / "a.png"), "-o", str(tmp_path / "again.png"),
                 "--config", str(tmp_path / "out" / "a.png.json"), "-q"]) == 0
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "out" / "a.png").read_bytes()


def test_sigterm_stops_training_with_a_checkpoint(tmp_path, content_path, style_path):
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(2):
        Image.open(content_path).save(data / f"{i}.png")
    model = tmp_path / "m.safetensors"
    proc = subprocess.Popen(
        [sys.executable, "-m", "painterly", "train", "--style", str(style_path), "--data", str(data), "-o", str(model),
         "--iterations", "100000", "--image-size", "32", "--batch-size", "1", "--style-size", "32",
         "--checkpoint-every", "100000", "--preview-every", "1", "--device", "cpu", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    # The preview written after each iteration says training is under way (signal handlers installed).
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(tmp_path.glob("*preview*")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "rerun with --resume" in err and "Traceback" not in err
    assert model.with_suffix(".ckpt").is_file() or list(tmp_path.glob("m*.ckpt")), list(tmp_path.iterdir())


def test_dash_reads_stdin_and_writes_stdout(tmp_path, content_path, style_path):
    for args in (["stylize", "-", "-o", "-", "--model", "wave", "--format", "jpg"],
                 ["transfer", "-", str(style_path), "-o", "-", "--size", "48", "--iterations", "3",
                  "--no-multiscale", "--format", "jpg", "-q"]):
        proc = subprocess.run([sys.executable, "-m", "painterly", *args], input=content_path.read_bytes(),
                              capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout[:3] == b"\xff\xd8\xff"  # a JPEG on stdout, nothing else
        img = Image.open(__import__("io").BytesIO(proc.stdout))
        assert img.format == "JPEG" and max(img.size) in (48, 64)


def test_dash_among_several_inputs_is_a_usage_error(capsys, content_path, tmp_path):
    assert main(["stylize", "-", str(content_path), "-o", str(tmp_path / "o"), "--model", "wave"]) == 2
    assert "standard input" in capsys.readouterr().err


def test_sheet_paints_every_installed_style_with_labels(tmp_path, content_path, style_path, capsys):
    import numpy as np

    from painterly.models.checkpoints import list_models

    out = tmp_path / "sheet.png"
    code = main(["sheet", str(content_path), "-o", str(out), "--size", "64", "--thumb", "64", "--style-image",
                 str(style_path), "-q"])
    assert code == 0
    styles = sum(1 for m in list_models() if m.kind == "feedforward") + 1
    assert f"({styles} styles)" in capsys.readouterr().out
    sheet = np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)
    # photo + styles thumbnails, five to a row, each 64 px wide with 4 px gaps
    rows = (styles + 1 + 4) // 5
    assert sheet.shape[1] == 5 * 68 - 4 and sheet.shape[0] > rows * 40
    # each cell differs from the photo's cell: the styles were really painted
    first, second = sheet[18:50, :64], sheet[18:50, 68:132]
    assert np.abs(first - second).mean() > 10
    assert main(["sheet", str(content_path), "-o", str(tmp_path / "s.xyz")]) == 1
