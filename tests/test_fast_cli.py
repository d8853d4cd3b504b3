"""``painterly stylize / models / export / train`` run in-process through ``main([...])``."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from fast_fixtures import save_tiny_model, write_photo
from painterly.cli.main import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def models_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("PAINTERLY_MODELS", str(folder))
    save_tiny_model(folder / "tiny.safetensors")
    return folder


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_photo(folder / "a.png", 48)
    write_photo(folder / "b.jpg", 40)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folder / "notes.txt").write_text("not an image, not even tried")
    return folder


def test_folder_in_folder_out_skips_the_bad_file(capsys, tmp_path, models_dir, photos):
    out = tmp_path / "out" / "nested"  # created if missing
    code, stdout, stderr = run(capsys, "stylize", photos, "--model", "tiny", "-o", out)
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    assert Image.open(out / "a.png").size == Image.open(photos / "a.png").size
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "broken.jpg" in warnings[0]
    assert "2 of 3 images" in stderr and "1 failed" in stderr
    assert stdout.count("wrote ") == 2


def test_single_file_to_file_with_options(capsys, tmp_path, models_dir, photos):
    target = tmp_path / "styled.webp"
    code, stdout, stderr = run(
        capsys, "stylize", photos / "a.png", "-m", "tiny", "-o", target, "--size", "32",
        "--style-weights", "starry:0.7,wave:0.3", "--strength", "0.8", "--preserve-color", "histogram",
        "--tile-size", "64", "--tile-overlap", "8",
    )
    assert (code, stderr) == (0, "")
    assert Image.open(target).size == (32, 21) and "wrote" in stdout


def test_several_files_go_to_a_folder(capsys, tmp_path, models_dir, photos):
    code, _, _ = run(capsys, "stylize", photos / "a.png", photos / "b.jpg", "-m", "tiny", "-o", tmp_path / "o", "-q")
    assert code == 0 and sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.png", "b.jpg"]


def test_unknown_model_suggests_the_closest_name(capsys, tmp_path, models_dir, photos):
    code, _, stderr = run(capsys, "stylize", photos / "a.png", "--model", "tinny", "-o", tmp_path / "x.png")
    assert code == 1
    assert stderr.strip().count("\n") == 0 and "did you mean 'tiny'" in stderr


def test_corrupt_model_is_refused_in_one_line(capsys, tmp_path, models_dir, photos):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((models_dir / "tiny.safetensors").read_bytes()[:500])
    code, _, stderr = run(capsys, "stylize", photos / "a.png", "--model", bad, "-o", tmp_path / "x.png")
    assert code == 1 and stderr.startswith("painterly: error:") and "corrupt" in stderr
    assert stderr.strip().count("\n") == 0
    assert not (tmp_path / "x.png").exists()


def test_bad_style_weights_are_usage_errors(capsys, tmp_path, models_dir, photos):
    code, _, stderr = run(capsys, "stylize", photos / "a.png", "-m", "tiny", "-o", tmp_path / "x.png",
                          "--style-weights", "stary:1")
    assert code == 2 and "did you mean 'starry'" in stderr
    code, _, stderr = run(capsys, "stylize", photos / "a.png", "-m", "tiny", "-o", tmp_path / "x.png",
                          "--strength", "3")
    assert code == 2 and "--strength" in stderr


def test_models_lists_the_user_folder(capsys, models_dir):
    code, stdout, _ = run(capsys, "models")
    assert code == 0
    header, *rows = stdout.splitlines()
    assert header.split() == ["NAME", "STYLES", "ARCHITECTURE", "SIZE", "PATH"]
    mine = [r for r in rows if str(models_dir) in r]
    assert len(mine) == 1 and mine[0].split()[:3] == ["tiny", "starry,wave", "fast"]


def test_models_lists_the_bundled_styles(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PAINTERLY_MODELS", str(tmp_path / "empty"))
    code, stdout, _ = run(capsys, "models")
    names = {line.split()[0] for line in stdout.splitlines()[1:] if line.strip()}
    assert code == 0 and {"starry_night", "wave", "shipwreck"} <= names and len(names) >= 8


def test_models_with_none_installed(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PAINTERLY_MODELS", str(tmp_path / "empty"))
    monkeypatch.setattr("painterly.models.checkpoints.bundled_models_dir", lambda: tmp_path / "none")
    code, stdout, _ = run(capsys, "models")
    assert code == 0 and "no models found" in stdout


def test_export_then_stylize_with_onnx(capsys, tmp_path, models_dir, photos):
    pytest.importorskip("onnx")
    code, stdout, _ = run(capsys, "export", "tiny")  # default: NAME.onnx in the models folder
    assert code == 0 and (models_dir / "tiny.onnx").is_file()
    code, stdout, _ = run(capsys, "models")
    assert "tiny.onnx" in stdout  # a bare name now picks the ONNX file
    code, stdout, _ = run(capsys, "stylize", photos / "a.png", "-m", "tiny", "-o", tmp_path / "o.png")
    assert code == 0
    shutil.copy(photos / "a.png", tmp_path / "copy.png")
    code, _, _ = run(capsys, "export", "tiny", "-o", tmp_path / "x.onnx")
    assert code == 0 and (tmp_path / "x.onnx").is_file()


def test_train_needs_style_data_and_output(capsys, tmp_path):
    code, _, stderr = run(capsys, "train", "--data", tmp_path)
    assert code == 2 and "--style" in stderr and "-o" in stderr
    code, stdout, _ = run(capsys, "train", "--help")
    assert code == 0 and "--iterations" in stdout and "--style IMAGE" in stdout
