"""Tests for the stability term of feed-forward training (training/stability.py) and
``painterly train --temporal-weight`` / ``--init-model`` (fast/train.py).

Tiny on purpose: 32 px crops, batches of 2, 2-4 iterations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import torch
from PIL import Image

from painterly.cli.main import main
from painterly.config import TrainConfig
from painterly.errors import ConfigError
from painterly.fast.train import read_checkpoint, train
from painterly.models.checkpoints import load_model, read_model_info
from painterly.progress import TrainProgress
from painterly.training.stability import (
    PerturbationRange,
    perturb,
    random_perturbation,
    stability_loss,
    warp,
)

DATA = Path(__file__).resolve().parents[1] / "src" / "painterly" / "data"
STYLE = str(DATA / "starry_night.jpg")
#: Sub-pixel shifts, rotation and zoom, no gain or noise.
WARP_ONLY = PerturbationRange(shift=2.0, whole_pixels=False, rotate=1.0, zoom=0.02, gain=0.0, noise=0.0)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _photo(h: int = 40, w: int = 48) -> torch.Tensor:
    with Image.open(DATA / "chelsea.jpg") as img:
        img = img.convert("RGB").resize((w, h), Image.BICUBIC)
        return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)[None].float() / 255


# -- the term itself ------------------------------------------------------------------


@pytest.mark.parametrize("whole", [True, False])
def test_pure_shift_moves_a_ramp_by_a_constant(whole: bool) -> None:
    ranges = PerturbationRange(shift=2.5, whole_pixels=whole, rotate=0, zoom=0, gain=0, noise=0)
    p = random_perturbation(8, 32, 40, generator=_gen(1), ranges=ranges)
    ramp = torch.arange(40, dtype=torch.float32).expand(8, 1, 32, 40).contiguous()
    moved = warp(ramp, p) - ramp
    offsets = []
    for b in range(8):
        inside = moved[b, 0][p.valid[b, 0] > 0]
        assert inside.numel() > 0.4 * 32 * 40
        # A shift is the same offset everywhere inside, and within the range.
        assert float(inside.max() - inside.min()) < 1e-3
        offsets.append(float(inside.mean()))
    assert all(abs(o) <= 2.5 for o in offsets) and len({round(o, 3) for o in offsets}) > 2
    fractional = [abs(o - round(o)) for o in offsets]
    assert max(fractional) < 1e-4 if whole else max(fractional) > 0.05


def test_same_generator_state_same_perturbation() -> None:
    a = random_perturbation(2, 24, 24, generator=_gen(7))
    b = random_perturbation(2, 24, 24, generator=_gen(7))
    c = random_perturbation(2, 24, 24, generator=_gen(8))
    assert torch.equal(a.grid, b.grid) and torch.equal(a.noise, b.noise) and torch.equal(a.gain, b.gain)
    assert not torch.equal(a.grid, c.grid)


def test_zero_for_networks_that_commute_with_the_warp() -> None:
    x = _photo()
    p = random_perturbation(1, 40, 48, generator=_gen(2), ranges=WARP_ONLY)
    assert float(stability_loss(x, perturb(x, p), p)) == pytest.approx(0.0, abs=1e-10)  # identity
    # Any per-pixel linear colour map commutes with bilinear warping.
    mix = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        mix.weight.copy_(torch.tensor([[0.5, 0.3, 0.1], [0.1, 0.6, 0.2], [0.2, 0.2, 0.5]]).view(3, 3, 1, 1))
        mix.bias.copy_(torch.tensor([0.05, -0.02, 0.1]))
        loss = stability_loss(mix(x), mix(perturb(x, p)), p)
    assert float(loss) < 1e-10


def test_whole_pixel_default_is_exact_for_any_per_pixel_map() -> None:
    x = _photo()
    p = random_perturbation(1, 40, 48, generator=_gen(9), ranges=PerturbationRange(gain=0.0, noise=0.0))
    # Bilinear resampling would not commute with a non-linear map; whole-pixel moves do.
    assert float(stability_loss(torch.sigmoid(8 * x - 4), torch.sigmoid(8 * perturb(x, p) - 4), p)) < 1e-12
    sub = random_perturbation(1, 40, 48, generator=_gen(9), ranges=WARP_ONLY)
    assert float(stability_loss(torch.sigmoid(8 * x - 4), torch.sigmoid(8 * perturb(x, sub) - 4), sub)) > 1e-5


def test_positive_for_networks_that_do_not() -> None:
    x = _photo()
    p = random_perturbation(1, 40, 48, generator=_gen(3), ranges=WARP_ONLY)
    # A fixed pattern painted at fixed places (like strokes that do not follow the content).
    yy, xx = torch.meshgrid(torch.arange(40.0), torch.arange(48.0), indexing="ij")
    pattern = 0.3 * torch.sin(xx * 1.7 + yy * 0.9)

    def fixed_strokes(t: torch.Tensor) -> torch.Tensor:
        return (t + pattern).clamp(0, 1)

    assert float(stability_loss(fixed_strokes(x), fixed_strokes(perturb(x, p)), p)) > 1e-3
    # A network that ignores noise is rewarded; one that passes it through is not.
    noisy = random_perturbation(1, 40, 48, generator=_gen(4), ranges=PerturbationRange(shift=0, rotate=0, zoom=0,
                                                                                      gain=0, noise=0.05))
    mid = 0.2 + 0.6 * x  # away from the clamp at 0 and 1
    passes = float(stability_loss(mid, perturb(mid, noisy), noisy))
    assert passes == pytest.approx(0.05 ** 2, rel=0.15)


def test_gradient_flows_to_both_outputs_and_into_a_network() -> None:
    p = random_perturbation(2, 12, 14, generator=_gen(5), dtype=torch.float64)
    a = torch.rand(2, 3, 12, 14, dtype=torch.float64, requires_grad=True)
    b = torch.rand(2, 3, 12, 14, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda u, v: stability_loss(u, v, p).double(), (a, b))

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
                              torch.nn.Upsample(scale_factor=2), torch.nn.Conv2d(8, 3, 3, padding=1))
    x = _photo(32, 32)
    q = random_perturbation(1, 32, 32, generator=_gen(6))
    loss = stability_loss(net(x), net(perturb(x, q)), q)
    loss.backward()
    assert float(loss.detach()) > 0
    assert all(m.weight.grad is not None and float(m.weight.grad.abs().sum()) > 0 for m in (net[0], net[3]))


def test_shape_mismatch_is_refused() -> None:
    p = random_perturbation(1, 8, 8, generator=_gen())
    with pytest.raises(ValueError, match="shapes differ"):
        stability_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 10), p)


# -- training with it ----------------------------------------------------------------


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i, name in enumerate(("chelsea.jpg", "astronaut.jpg", "chelsea.jpg")):
        with Image.open(DATA / name) as img:
            img = img.convert("RGB")
            if i == 2:
                img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            img.thumbnail((72, 72))
            img.save(folder / f"photo{i}.jpg")
    return folder


def _config(photos: Path, model: Path, **changes: Any) -> TrainConfig:
    values: Dict[str, Any] = dict(
        styles=(STYLE,), data=str(photos), output=str(model), iterations=4, image_size=32, batch_size=2,
        style_size=32, checkpoint_every=2, device="cpu", seed=5, temporal_weight=50.0,
    )
    values.update(changes)
    return TrainConfig(**values)


def test_training_records_the_term_and_its_weight(photos: Path, tmp_path: Path) -> None:
    events: List[TrainProgress] = []
    result = train(_config(photos, tmp_path / "t.safetensors", iterations=2), callback=events.append)
    assert set(events[-1].losses) == {"content", "style", "tv", "temporal"}
    assert all(v > 0 for v in result.history["temporal"])
    meta = read_model_info(result.model_path).meta["train"]
    assert meta["config"]["temporal_weight"] == 50.0
    assert meta["stability"]["weight"] == 50.0 and meta["stability"]["shift"] > 0
    assert "init_model" not in meta
    # The total counts the term with its weight.
    h = result.history
    for i in range(2):
        assert h["total"][i] == pytest.approx(
            h["content"][i] + 10 * h["style"][i] + h["tv"][i] + 50 * h["temporal"][i], rel=1e-4)
    # Without it: no term, nothing recorded.
    plain = train(_config(photos, tmp_path / "p.safetensors", iterations=1, temporal_weight=0.0))
    assert "temporal" not in plain.history
    assert "stability" not in read_model_info(plain.model_path).meta["train"]


def test_interrupt_and_resume_keep_the_term(photos: Path, tmp_path: Path) -> None:
    full = train(_config(photos, tmp_path / "full.safetensors"))

    def stop_at_two(event: TrainProgress) -> None:
        if event.iteration == 2:
            raise KeyboardInterrupt

    out = tmp_path / "r.safetensors"
    first = train(_config(photos, out), callback=stop_at_two)
    assert first.interrupted and first.iterations == 2
    with pytest.raises(ConfigError, match="temporal_weight"):
        train(_config(photos, out, resume=True, temporal_weight=10.0))
    second = train(_config(photos, out, resume=True))
    assert second.iterations == 4 and second.start_iteration == 2
    # The perturbations follow the seed and iteration, so the resumed run is the uninterrupted one.
    assert second.history["temporal"] == full.history["temporal"]
    a, b = read_checkpoint(full.checkpoint_path)["network"], read_checkpoint(second.checkpoint_path)["network"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_model_info(out).meta["train"]["stability"]["weight"] == 50.0


def test_init_model_starts_from_its_weights(photos: Path, tmp_path: Path) -> None:
    bundled, _ = load_model("starry_night")
    result = train(_config(photos, tmp_path / "ft.safetensors", iterations=1, lr=1e-9, init_model="starry_night"))
    tuned, info = load_model(result.model_path)
    before, after = bundled.state_dict(), tuned.state_dict()
    # One Adam step of 1e-9 moves each weight by about 1e-9: still the bundled model.
    assert all(torch.allclose(before[k], after[k], atol=1e-6) for k in before)
    assert info.meta["train"]["init_model"]["name"] == "starry_night"
    assert info.meta["train"]["config"]["init_model"] == "starry_night"
    # A random start is far from it.
    fresh = train(_config(photos, tmp_path / "fresh.safetensors", iterations=1, lr=1e-9))
    other = load_model(fresh.model_path)[0].state_dict()
    assert max(float((before[k] - other[k]).abs().max()) for k in before if before[k].is_floating_point()) > 0.05


def test_init_model_must_fit(photos: Path, tmp_path: Path) -> None:
    two = _config(photos, tmp_path / "two.safetensors", styles=(STYLE, str(DATA / "wave.jpg")), init_model="starry_night")
    with pytest.raises(ConfigError, match="holds 1 styles"):
        train(two)
    with pytest.raises(ConfigError, match="johnson"):
        train(_config(photos, tmp_path / "j.safetensors", architecture="johnson", init_model="starry_night"))
    assert not (tmp_path / "two.safetensors").exists() and not (tmp_path / "j.safetensors").exists()


def test_cli_flags(photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.safetensors"
    common = ["train", "--style", STYLE, "--data", str(photos), "-o", str(out), "--iterations", "2",
              "--image-size", "32", "--style-size", "32", "--batch-size", "2", "--device", "cpu", "-q"]
    assert main(common + ["--temporal-weight", "120", "--init-model", "starry_night"]) == 0
    meta = read_model_info(out).meta["train"]
    assert meta["config"]["temporal_weight"] == 120.0 and meta["stability"]["weight"] == 120.0
    assert meta["init_model"]["name"] == "starry_night"
    assert "temporal" in capsys.readouterr().out  # the final line lists the term's loss
    assert main(common + ["--temporal-weight", "-1"]) == 2
    assert "--temporal-weight must be a finite number >= 0" in capsys.readouterr().err
    assert main(common + ["--init-model", "no_such_model_here"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("painterly: error:") and "no_such_model_here" in err and len(err.strip().splitlines()) == 1
    assert json.loads(json.dumps(meta))  # JSON-clean metadata
