"""Tests for feed-forward training (fast/train.py, fast/data.py, fast/losscurve.py).

Tiny on purpose: 64 px crops, batches of 2, a handful of iterations.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch
from PIL import Image

from painterly.config import TrainConfig
from painterly.errors import ConfigError, ImageError, ImageNotFoundError, OutputError
from painterly.training.data import CropSampler, scan_images
from painterly.fast.train import TrainResult, read_checkpoint, train
from painterly.models.checkpoints import load_model, read_model_info
from painterly.progress import TrainProgress

DATA = Path(__file__).resolve().parents[1] / "src" / "painterly" / "data"
SHARED_CONTENT = Path(__file__).resolve().parents[2] / "shared" / "images" / "content"
STYLES = (str(DATA / "starry_night.jpg"), str(DATA / "wave.jpg"))
ITERATIONS = 8
#: Resume tests run smaller (they compare runs, they need not learn anything).
SMALL = dict(image_size=32, style_size=32, iterations=6, checkpoint_every=3)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 small photos in two folders, plus a corrupt .jpg and a text file to skip."""
    folder = tmp_path_factory.mktemp("photos")
    (folder / "sub").mkdir()
    sources = sorted(SHARED_CONTENT.glob("*.jpg"))[:4] if SHARED_CONTENT.is_dir() else []
    if len(sources) < 4:  # no shared folder: the bundled photos, mirrored for variety
        sources = [DATA / "chelsea.jpg", DATA / "astronaut.jpg"] * 2
    for i, src in enumerate(sources):
        with Image.open(src) as img:
            img = img.convert("RGB")
            if i >= 2:
                img = img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
            img.thumbnail((120, 120))
            img.save(folder / ("sub" if i % 2 else ".") / f"photo{i}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _config(photos: Path, model: Path, **changes: Any) -> TrainConfig:
    values: Dict[str, Any] = dict(
        styles=STYLES,
        data=str(photos),
        output=str(model),
        iterations=ITERATIONS,
        image_size=64,
        batch_size=2,
        style_size=64,
        checkpoint_every=4,
        device="cpu",
        seed=3,
    )
    values.update(changes)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def reference(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """An uninterrupted 8-iteration, 2-style run."""
    out = tmp_path_factory.mktemp("reference") / "model.safetensors"
    events: List[TrainProgress] = []
    result = train(_config(photos, out), callback=events.append)
    result.events = events  # type: ignore[attr-defined]
    return result


def _weights(path: Path) -> Dict[str, torch.Tensor]:
    return read_checkpoint(path)["network"]


def test_training_lowers_the_loss(reference: TrainResult) -> None:
    total = reference.history["total"]
    assert len(total) == ITERATIONS
    first, last = sum(total[:3]) / 3, sum(total[-3:]) / 3
    # Measured here: about 0.6-0.7; an untrained or diverging run stays near 1 or above.
    assert last < 0.85 * first, total
    style = reference.history["style"]
    assert sum(style[-3:]) < 0.8 * sum(style[:3]), style


def test_progress_events_and_outputs(reference: TrainResult) -> None:
    events = reference.events  # type: ignore[attr-defined]
    assert [e.iteration for e in events] == list(range(1, ITERATIONS + 1))
    assert all(e.total == ITERATIONS and set(e.losses) == {"content", "style", "tv"} for e in events)
    assert events[3].wrote and not events[2].wrote  # checkpoint every 4 iterations
    assert reference.skipped_files == 1  # notes.txt
    assert [p.name for p in reference.unreadable_files] == ["broken.jpg"]
    assert reference.style_names == ["starry_night", "wave"]
    assert not reference.interrupted and reference.iterations == ITERATIONS
    model = reference.model_path
    assert reference.checkpoint_path == model.with_name("model.ckpt")
    for png, width in ((reference.loss_curve_path, 900), (reference.preview_path, None)):
        assert png is not None and png.name in ("model_loss.png", "model_preview.png")
        with Image.open(png) as img:
            img.verify()
        with Image.open(png) as img:
            assert img.format == "PNG" and (width is None or img.width == width)
    with Image.open(reference.preview_path) as img:  # photo + 2 styles side by side
        assert img.width > 2.5 * img.height


def test_model_file_round_trips(reference: TrainResult) -> None:
    code = (
        "import sys; from painterly.models.checkpoints import read_model_info; "
        f"info = read_model_info({str(reference.model_path)!r}); "
        "assert info.styles == ['starry_night', 'wave'] and info.architecture == 'fast'; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    info = read_model_info(reference.model_path)
    train_meta = info.meta["train"]
    assert train_meta["iterations"] == ITERATIONS
    assert train_meta["config"]["image_size"] == 64
    assert train_meta["config"]["styles"] == ["starry_night.jpg", "wave.jpg"]  # names, not home folders
    assert set(train_meta["final_losses"]) == {"content", "style", "tv", "total"}
    assert train_meta["hardware"]["device"] == "cpu" and train_meta["seconds"] > 0
    net, _ = load_model(reference.model_path)
    saved = _weights(reference.checkpoint_path)
    for key, value in net.state_dict().items():
        assert torch.equal(value, saved[key])


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=0, atol=1e-6, msg=key)
    ha, hb = read_checkpoint(a)["history"], read_checkpoint(b)["history"]
    for key in ha:
        assert ha[key] == pytest.approx(hb[key], rel=1e-6, abs=1e-9), key


@pytest.fixture(scope="module")
def small_reference(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """An uninterrupted 6-iteration run at 32 px: what the resumed runs must equal."""
    out = tmp_path_factory.mktemp("small") / "model.safetensors"
    return train(_config(photos, out, **SMALL))


def test_interrupt_then_resume_equals_uninterrupted(
    photos: Path, small_reference: TrainResult, tmp_path: Path
) -> None:
    out = tmp_path / "model.safetensors"

    def stop_at_2(event: TrainProgress) -> None:
        if event.iteration == 2:  # not a checkpoint iteration: the interrupt writes one
            raise KeyboardInterrupt

    first = train(_config(photos, out, **SMALL), callback=stop_at_2)
    assert first.interrupted and first.iterations == 2
    assert read_checkpoint(first.checkpoint_path)["iteration"] == 2
    assert out.is_file()  # the model so far is usable

    # Starting afresh over an unfinished run, or resuming with other settings, is refused.
    with pytest.raises(ConfigError, match="unfinished"):
        train(_config(photos, out, **SMALL))
    with pytest.raises(ConfigError, match="batch_size"):
        train(_config(photos, out, **SMALL, resume=True, batch_size=3))

    second = train(_config(photos, out, **SMALL, resume=True))
    assert second.start_iteration == 2 and second.iterations == 6 and not second.interrupted
    _assert_same_run(second.checkpoint_path, small_reference.checkpoint_path)


def test_three_iterations_plus_resume_to_six_equals_six(
    photos: Path, small_reference: TrainResult, tmp_path: Path
) -> None:
    out = tmp_path / "model.safetensors"
    half = train(_config(photos, out, **{**SMALL, "iterations": 3}))
    assert half.iterations == 3
    full = train(_config(photos, out, **SMALL, resume=True))
    assert full.start_iteration == 3 and full.iterations == 6
    _assert_same_run(full.checkpoint_path, small_reference.checkpoint_path)
    assert len(full.history["total"]) == 6


def test_bad_inputs_fail_before_training(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"precious")
    cases = [
        (dict(styles=()), ConfigError, "no style images"),
        (dict(data=""), ConfigError, "no data folder"),
        (dict(data=str(tmp_path / "missing")), ImageNotFoundError, "data folder not found"),
        (dict(styles=(str(tmp_path / "nope.jpg"),)), ImageNotFoundError, "nope.jpg"),
        (dict(output=str(tmp_path / "m.onnx")), ConfigError, ".safetensors"),
        (dict(output=str(tmp_path / "no" / "m.safetensors")), OutputError, "does not exist"),
        (dict(resume=True), ConfigError, "no checkpoint"),
        (dict(device="cuda:7"), ConfigError, "not available"),
    ]
    for changes, error, message in cases:
        with pytest.raises(error, match=message):
            train(_config(photos, out, **changes))
    assert out.read_bytes() == b"precious"  # nothing clobbered
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    with pytest.raises(ConfigError, match="style_names"):
        _config(photos, out, style_names=("one",))
    with pytest.raises(ConfigError, match="architecture"):
        _config(photos, out, architecture="jonson")


def test_data_scan_and_sampler_state(photos: Path, tmp_path: Path) -> None:
    files, skipped = scan_images(photos)
    assert [f.name for f in files] == ["broken.jpg", "photo0.jpg", "photo2.jpg", "photo1.jpg", "photo3.jpg"]
    assert skipped == 1
    sampler = CropSampler(files, 32, 3, seed=1)
    sampler.next_batch()
    state = sampler.state_dict()
    a = sampler.next_batch()
    other = CropSampler(files, 32, 3, seed=99)
    other.load_state_dict(state)
    b = other.next_batch()
    assert a.shape == (3, 3, 32, 32) and torch.equal(a, b)
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("x")
    with pytest.raises(ImageError, match="no images.*1 other files skipped"):
        scan_images(empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(photos / "broken.jpg", bad / "a.jpg")
    with pytest.raises(ImageError, match="could be read"):
        CropSampler(scan_images(bad)[0], 32, 2, seed=0).next_batch()


def test_config_defaults_are_valid_and_documented() -> None:
    cfg = TrainConfig()
    assert cfg.architecture == "fast" and cfg.image_size == 256 and cfg.batch_size == 4 and cfg.lr == 1e-3
    for f in dataclasses.fields(TrainConfig):
        assert f.metadata.get("help"), f.name
    with pytest.raises(ConfigError, match="device"):
        TrainConfig(device="gpu")


def test_color_jitter_recolours_crops_reproducibly_and_is_off_by_default(photos: Path) -> None:
    from painterly.imaging.color import rgb_to_yiq
    from painterly.training.data import jitter_colors

    files, _ = scan_images(photos)
    plain = CropSampler(files, 32, 4, seed=5).next_batch()
    zero = CropSampler(files, 32, 4, seed=5, color_jitter=0.0).next_batch()
    assert torch.equal(plain, zero)  # 0: the same random stream as without the option
    jittered = CropSampler(files, 32, 4, seed=5, color_jitter=1.0)
    state = jittered.state_dict()
    a = jittered.next_batch()
    again = CropSampler(files, 32, 4, seed=7, color_jitter=1.0)
    again.load_state_dict(state)
    assert torch.equal(a, again.next_batch())  # resumable like every other draw
    assert a.shape == plain.shape and 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert not torch.allclose(a, plain, atol=0.02)
    # A 90 degree turn keeps the luma and the chroma's length, and swaps I and Q (I -> Q, Q -> -I).
    x = torch.full((1, 3, 2, 2), 0.5)
    x[:, 0] = 0.7
    turned = rgb_to_yiq(jitter_colors(x, 90.0, 1.0, 1.0))
    ref = rgb_to_yiq(x)
    torch.testing.assert_close(turned[:, 0], ref[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(turned[:, 2], ref[:, 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(turned[:, 1], -ref[:, 2], atol=1e-5, rtol=0)
    grey = rgb_to_yiq(jitter_colors(x, 0.0, 0.0, 1.0))
    assert float(grey[:, 1:].abs().max()) < 1e-5  # saturation 0: grey


def test_loss_curve_draws_a_term_added_by_a_resumed_stage_from_where_it_started(tmp_path):
    from painterly.training.losscurve import curve_points, draw_loss_curve

    history = {"total": [2.0] * 100, "distribution": [0.5] * 10}
    points = curve_points(history, columns=500)
    assert points["total"][0][0] == 1 and points["total"][-1][0] == 100
    assert points["distribution"][0][0] == 91 and points["distribution"][-1][0] == 100
    coarse = curve_points({"total": [1.0] * 1000, "late": [1.0] * 100}, columns=50)
    assert len(coarse["late"]) == 5 and min(x for x, _ in coarse["late"]) > 900
    image = draw_loss_curve(history, tmp_path / "loss.png")
    assert image.size == (900, 520) and (tmp_path / "loss.png").is_file()
