"""Optimization-based style transfer on tiny real images with the real VGG19."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import painterly
from painterly.config import TransferConfig
from painterly.errors import ConfigError, ImageError, ImageNotFoundError, PainterlyError
from painterly.imaging import load_image, rgb_to_yiq
from painterly.progress import Progress
from painterly.gatys import TransferResult, run_transfer
from painterly.gatys.schedule import plan, scale_sizes

# A UserWarning raised from painterly code (e.g. torch's "converting a tensor
# with requires_grad=True to a scalar") would also reach CLI users' stderr.
pytestmark = pytest.mark.filterwarnings(r"error::UserWarning:painterly\.")


def _colour_noise(rgb: tuple, size: int = 48, seed: int = 0) -> torch.Tensor:
    """A textured image around one colour (1 x 3 x size x size)."""
    n = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(seed))
    base = torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1)
    return (0.6 * base + 0.4 * base * n).clamp(0, 1)


# ------------------------------------------------------------- loss goes down


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_few_iterations_lower_the_loss(optimizer, content_path, style_path, tiny_config):
    cfg = tiny_config(optimizer=optimizer, lr=0.05)
    result = run_transfer(content_path, style_path, cfg)
    assert isinstance(result, TransferResult)
    assert len(result.history) == 1 and len(result.history[0]) == result.iterations
    assert 2 <= result.iterations <= 8
    first = result.history[0][0]
    assert result.loss < first
    assert min(result.history[0][1:]) < 0.9 * first
    assert set(result.losses) == {"content", "style"}
    assert result.loss == pytest.approx(
        cfg.content_weight * result.losses["content"] + cfg.style_weight * result.losses["style"], rel=1e-4
    )
    assert tuple(result.tensor.shape) == (1, 3, 32, 48)
    assert 0 <= float(result.tensor.min()) and float(result.tensor.max()) <= 1
    assert not result.interrupted and result.config is cfg


def test_tv_weight_adds_a_tv_term(content_path, style_path, tiny_config):
    result = run_transfer(content_path, style_path, tiny_config(iterations=2, tv_weight=10.0))
    assert set(result.losses) == {"content", "style", "tv"}
    assert result.losses["tv"] > 0


@pytest.mark.parametrize("style_loss", ["moments", "w2", "gram+w2"])
def test_other_style_losses_lower_the_loss(style_loss, content_path, style_path, tiny_config):
    result = run_transfer(
        content_path,
        style_path,
        tiny_config(size=32, style_size=32, iterations=5, style_loss=style_loss, style_layers=("relu1_1", "relu2_1")),
    )
    assert min(result.history[0][1:]) < result.history[0][0]


def test_content_at_exactly_the_output_size(content_path, style_path):
    # content_path is 64 px long: the content tensor goes to the optimizer
    # unresized (channels-last strides from the loader) and L-BFGS must cope.
    result = run_transfer(
        content_path, style_path, TransferConfig(size=64, iterations=3, multiscale=False, style_size=48)
    )
    assert max(result.tensor.shape[-2:]) == 64
    assert result.loss < result.history[0][0]


def test_multiscale_lowers_the_loss_at_each_scale(content_path, style_path):
    cfg = TransferConfig(size=64, min_size=32, scale_factor=2**0.5, iterations=24, style_size=64, tolerance=0)
    assert scale_sizes(cfg) == [32, 45, 64]
    steps = [s.iterations for s in plan(cfg, (43, 64))]
    assert sum(steps) == 24 and steps[0] > steps[-1] >= 1
    events: list[Progress] = []
    result = run_transfer(content_path, style_path, cfg, callback=events.append)
    assert len(result.history) == 3
    assert scale_sizes(TransferConfig(size=256)) == [64, 128, 256]  # the default: factor 2 from 64 px
    for i, h in enumerate(result.history):
        assert len(h) == steps[i]
        assert min(h[1:]) < h[0], f"scale {i} did not lower its loss: {h}"
    assert result.iterations == 24
    # each stage optimizes a larger image; the last at the requested size
    sizes = {e.stage: e.size for e in events}
    assert [max(sizes[s]) for s in range(3)] == [32, 45, 64]
    assert all(e.stages == 3 for e in events)
    assert max(result.tensor.shape[-2:]) == 64
    assert result.image.size == (64, 43)


# ------------------------------------------------------------ initialization


def test_noise_init_is_reproducible_from_the_seed(content_path, style_path, tiny_config):
    def run(seed: int) -> TransferResult:
        return run_transfer(
            content_path, style_path, tiny_config(size=32, iterations=2, init="noise", seed=seed, optimizer="adam")
        )

    a, b, c = run(1), run(1), run(2)
    assert torch.equal(a.tensor, b.tensor)
    assert a.history == b.history
    assert not torch.equal(a.tensor, c.tensor)
    assert a.history[0][0] != c.history[0][0]


def test_noise_init_is_not_the_content(content_path, style_path, tiny_config):
    # one L-BFGS iteration evaluates (and so reports) the start image only
    noise = run_transfer(content_path, style_path, tiny_config(iterations=1, init="noise"))
    content = run_transfer(content_path, style_path, tiny_config(iterations=1))
    assert content.losses["content"] == 0.0
    assert noise.losses["content"] > 0.3


def test_bfloat16_matches_float32_closely_and_lowers_the_loss(content_path, style_path, tiny_config):
    import torch

    from painterly.models.device import compute_dtype

    exact = run_transfer(content_path, style_path, tiny_config(iterations=10))
    fast = run_transfer(content_path, style_path, tiny_config(iterations=10, precision="bfloat16"))
    assert fast.history[-1][-1] < 0.7 * fast.history[0][0]  # it optimizes
    # The same start image scored both ways: bfloat16 features, float32 targets.
    assert fast.history[0][0] == pytest.approx(exact.history[0][0], rel=0.02)
    assert fast.history[-1][-1] == pytest.approx(exact.history[-1][-1], rel=0.15)
    assert compute_dtype(torch.device("cpu"), "float32") is None
    assert compute_dtype(torch.device("cpu"), "bfloat16") is torch.bfloat16
    # auto: bfloat16 exactly where oneDNN has it natively.
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert compute_dtype(torch.device("cpu"), "auto") is (torch.bfloat16 if native else None)


def test_init_from_an_image_path(content_path, style_path, tiny_config):
    # one L-BFGS iteration evaluates (and so reports) the start image only
    from_content = run_transfer(content_path, style_path, tiny_config(iterations=1))
    same_file = run_transfer(content_path, style_path, tiny_config(iterations=1, init=str(content_path)))
    from_style = run_transfer(content_path, style_path, tiny_config(iterations=1, init=str(style_path)))
    # the content file as init is the content init...
    assert same_file.history[0][0] == pytest.approx(from_content.history[0][0], rel=1e-6)
    assert same_file.losses["content"] == 0.0
    # ...and the style painting as init starts far from the content, near the style
    assert from_style.losses["content"] > 0.3
    assert from_style.losses["style"] < 0.5 * from_content.losses["style"]


def test_missing_init_image_fails_before_optimizing(content_path, style_path, tiny_config, tmp_path):
    calls = []
    with pytest.raises(ImageNotFoundError, match="nope.png"):
        run_transfer(
            content_path, style_path, tiny_config(init=str(tmp_path / "nope.png")), callback=calls.append
        )
    assert calls == []


# -------------------------------------------------------------- two styles


def test_blend_weights_select_and_mix_styles(content_path, style_path, style2_path, tiny_config):
    def run(styles, blend=()):
        return run_transfer(content_path, styles, tiny_config(iterations=3, style_blend=blend))

    only_a = run([style_path])
    only_b = run([style2_path])
    a_via_blend = run([style_path, style2_path], (1.0, 0.0))
    b_via_blend = run([style_path, style2_path], (0.0, 2.0))
    mixed = run([style_path, style2_path], (1.0, 1.0))
    assert a_via_blend.history[0] == pytest.approx(only_a.history[0], rel=1e-5)
    assert b_via_blend.history[0] == pytest.approx(only_b.history[0], rel=1e-5)
    for other in (only_a, only_b):
        assert mixed.history[0][0] != pytest.approx(other.history[0][0], rel=1e-3)
    assert min(mixed.history[0]) < mixed.history[0][0]


def test_blend_weights_must_match_the_styles(content_path, style_path, tiny_config):
    with pytest.raises(ConfigError, match="2 weights for 1 style"):
        run_transfer(content_path, [style_path], tiny_config(style_blend=(1.0, 1.0)))
    with pytest.raises(ConfigError, match="zero"):
        run_transfer(content_path, [style_path, style_path], tiny_config(style_blend=(0.0, 0.0)))
    with pytest.raises(ConfigError, match="at least one style"):
        run_transfer(content_path, [], tiny_config())


# -------------------------------------------------------------------- masks


def _half_mask(width: int, height: int) -> Image.Image:
    m = np.zeros((height, width), np.uint8)
    m[:, : width // 2] = 255  # white (left) = first style
    return Image.fromarray(m, mode="L")


def test_mask_assigns_a_style_to_each_region(content_path, tiny_config):
    red, blue = _colour_noise((1.0, 0.15, 0.15)), _colour_noise((0.15, 0.15, 1.0), seed=1)
    mask = _half_mask(64, 43)  # content aspect; resized to the output internally
    result = run_transfer(content_path, [red, blue], tiny_config(iterations=10, style_weight=100.0), mask=mask)
    out = result.tensor
    w = out.shape[-1]
    left, right = out[..., : w // 2], out[..., w // 2 :]
    redness = lambda t: float((t[:, 0] - t[:, 2]).mean())  # noqa: E731
    assert redness(left) > redness(right) + 0.2
    assert result.loss < result.history[0][0]


def test_shared_images_and_mask(shared_mask, shared_image, tiny_config, tmp_path):
    # tubingen.jpg is 4:3; the shared mask is 600x800, so turn it on its side
    content = shared_image("content/tubingen.jpg")
    styles = [shared_image("style/shipwreck.jpg"), shared_image("style/udnie.jpg")]
    mask = tmp_path / "mask.png"
    with Image.open(shared_mask) as m:
        m.convert("L").transpose(Image.Transpose.ROTATE_90).resize((64, 48), Image.Resampling.NEAREST).save(mask)
    result = run_transfer(content, styles, tiny_config(iterations=4), mask=mask)
    assert tuple(result.tensor.shape) == (1, 3, 36, 48)
    assert min(result.history[0]) < result.history[0][0]
    with pytest.raises(ImageError, match="mask is 600x800 px"):
        run_transfer(content, styles, tiny_config(), mask=shared_mask)


def test_mask_of_the_wrong_aspect_ratio_is_refused(content_path, style_path, style2_path, tiny_config):
    with pytest.raises(ImageError, match="mask is 43x64 px but the content image is 64x43") as info:
        run_transfer(content_path, [style_path, style2_path], tiny_config(), mask=_half_mask(43, 64))
    assert isinstance(info.value, PainterlyError)


def test_mask_needs_two_styles(content_path, style_path, tiny_config):
    with pytest.raises(ConfigError, match="at least two style images"):
        run_transfer(content_path, [style_path], tiny_config(), mask=_half_mask(64, 43))


# ------------------------------------------------------------ preserve colour


def _chroma(image: torch.Tensor) -> torch.Tensor:
    return rgb_to_yiq(image)[:, 1:]


def test_preserve_color_keeps_the_contents_colours(content_path, style_path, tiny_config):
    content = load_image(content_path, size=48)
    runs = {
        mode: run_transfer(
            content_path, style_path, tiny_config(iterations=10, style_weight=100.0, preserve_color=mode)
        ).tensor
        for mode in ("none", "luminance", "histogram")
    }
    # per-pixel chroma (I, Q) distance to the content
    pixel = {m: float((_chroma(t) - _chroma(content)).abs().mean()) for m, t in runs.items()}
    # distance between the mean chroma of output and content
    mean = {m: float((_chroma(t).mean((2, 3)) - _chroma(content).mean((2, 3))).norm()) for m, t in runs.items()}
    assert pixel["none"] > 0.02  # Starry Night really changes the colours...
    assert pixel["luminance"] < 0.1 * pixel["none"]  # ...luminance transfer keeps the chroma
    assert mean["histogram"] < 0.5 * mean["none"]  # ...histogram matching keeps the palette
    assert not torch.allclose(runs["luminance"], content, atol=0.02)  # yet it is stylized


# ------------------------------------------------------- progress and Ctrl-C


def test_callback_receives_progress_events(content_path, style_path, tiny_config):
    events: list[Progress] = []
    result = run_transfer(content_path, style_path, tiny_config(iterations=5, tolerance=0), callback=events.append)
    assert [e.step for e in events] == [1, 2, 3, 4, 5]
    assert all(isinstance(e, Progress) for e in events)
    assert all(e.total == 5 and e.stage == 0 and e.stages == 1 for e in events)
    assert all(e.size == (32, 48) for e in events)
    assert [e.loss for e in events] == pytest.approx(result.history[0])
    assert all(set(e.losses) == {"content", "style"} for e in events)
    elapsed = [e.elapsed for e in events]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    snap = events[-1].snapshot()
    assert tuple(snap.shape) == (1, 3, 32, 48) and not snap.requires_grad
    assert 0 <= float(snap.min()) and float(snap.max()) <= 1


def test_ctrl_c_in_the_callback_returns_the_best_image(content_path, style_path, tiny_config):
    steps = []

    def stop_at_3(event: Progress) -> None:
        steps.append(event.step)
        if event.step == 3:
            raise KeyboardInterrupt

    result = run_transfer(content_path, style_path, tiny_config(), callback=stop_at_3)
    assert result.interrupted
    assert steps == [1, 2, 3]
    assert result.iterations == 3
    assert result.image.size == (48, 32)
    assert result.loss <= result.history[0][0]


def test_ctrl_c_in_a_coarse_scale_still_gives_the_full_size(content_path, style_path):
    def stop(event: Progress) -> None:
        if event.step == 2:
            raise KeyboardInterrupt

    cfg = TransferConfig(size=64, min_size=32, iterations=12, style_size=48)
    result = run_transfer(content_path, style_path, cfg, callback=stop)
    assert result.interrupted and result.iterations == 2 and len(result.history) == 1
    assert result.image.size == (64, 43)


# ------------------------------------------------------------- public API


def test_painterly_transfer_returns_a_pil_image(content_path, style_path, tiny_config):
    # The top-level lazy export and the function in its module are the same API.
    from painterly.jobs.api import transfer

    for fn in (painterly.transfer, transfer):
        image = fn(str(content_path), [str(style_path)], tiny_config(iterations=2))
        assert isinstance(image, Image.Image)
        assert image.mode == "RGB" and image.size == (48, 32)


def test_inputs_may_be_pil_images_and_tensors_and_are_not_modified(content_path, style_path, tiny_config):
    content = load_image(content_path)
    before = content.clone()
    with Image.open(style_path) as style:
        style.load()
        result = run_transfer(content, style, tiny_config(iterations=2))
    assert torch.equal(content, before)
    assert tuple(result.tensor.shape) == (1, 3, 32, 48)


# -------------------------------------------------------- config validation


@pytest.mark.parametrize(
    "changes, pattern",
    [
        (dict(size=-5), r"size must be between 16 and 8192 px, not -5"),
        (dict(size=100_000), r"size must be between 16 and 8192 px, not 100000"),
        (dict(style_layers=("relu4_22",)), r"unknown VGG19 layer 'relu4_22'.*did you mean 'relu4_2'"),
        (dict(content_layers=("conv9_1",)), r"unknown VGG19 layer 'conv9_1'"),
        (dict(optimizer="lbgfs"), r"optimizer must be one of lbfgs, adam, not 'lbgfs'.*did you mean 'lbfgs'"),
        (dict(optimizer="sgd"), r"optimizer must be one of lbfgs, adam"),
        (dict(style_loss="gram+wasserstein"), r"style_loss term must be one of gram, moments, w2"),
        (dict(preserve_color="colour"), r"preserve_color must be one of none, luminance, histogram"),
        (dict(style_weight=-1.0), r"style_weight must be a finite number >= 0"),
        (dict(style_weight=float("nan")), r"style_weight must be a finite number"),
        (dict(iterations=-1), r"iterations must be between 0 and 100000"),
        (dict(style_layers=()), r"style_layers is empty"),
        (dict(style_layer_weights=(1.0, 2.0)), r"style_layer_weights has 2 values for 5 style layers"),
        (dict(scale_factor=1.0), r"scale_factor must be between"),
    ],
)
def test_config_validation_errors(changes, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        TransferConfig(**changes)
    assert isinstance(info.value, ValueError)  # ConfigError is also a ValueError
    with pytest.raises(ConfigError):
        TransferConfig().replace(**changes)


def test_config_is_frozen_and_round_trips_through_json():
    import dataclasses
    import json

    cfg = TransferConfig(size=96, style_layers=("relu1_1", "relu3_1"), style_blend=(0.3, 0.7))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.size = 10  # type: ignore[misc]
    data = json.loads(cfg.to_json())
    assert data["size"] == 96 and data["style_layers"] == ["relu1_1", "relu3_1"]
    data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    assert TransferConfig(**data) == cfg


def test_coarse_scales_leave_out_style_layers_with_too_few_positions():
    from painterly.gatys.schedule import MIN_STYLE_POSITIONS, feature_positions, scale_style_layers

    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert feature_positions((34, 64), "relu1_1") == 34 * 64
    assert feature_positions((34, 64), "relu5_1") == 3 * 4  # four ceil-mode halvings
    coarse = scale_style_layers(layers, (34, 64), final=False)
    assert coarse == ["relu1_1", "relu2_1", "relu3_1"]
    assert all(feature_positions((34, 64), n) >= MIN_STYLE_POSITIONS for n in coarse)
    assert scale_style_layers(layers, (34, 64), final=True) == list(layers)
    assert scale_style_layers(("relu5_1",), (8, 8), final=False) == ["relu5_1"]  # never none


def test_automatic_schedule_depends_on_the_final_size():
    counts = lambda size: [s.iterations for s in plan(TransferConfig(size=size), (size, size))]  # noqa: E731
    assert counts(256) == [24, 12, 10]
    assert counts(384) == [56, 22, 14]
    assert counts(512) == [56, 22, 14, 8]
    assert sum(counts(256)) < sum(counts(384))
