"""Feed-forward stylization: tiling, shared norm statistics, style blending, strength, colour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fast_fixtures import make_net, photo_array, save_tiny_model
from painterly.config import StylizeConfig
from painterly.errors import ConfigError, ImageError, UsageError
from painterly.fast.norm_stats import NormStats
from painterly.fast.stylize import (
    load_stylizer,
    parse_style_weights,
    style_weight_vector,
    stylize_array,
)
from painterly.jobs.api import stylize
from painterly.fast.tiling import count_tiles, span_weights, stylize_tiled, tile_spans
from painterly.imaging import combine_luminance, match_histogram
from painterly.imaging.array_color import blend_array, combine_luminance_array, match_histogram_array


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny.safetensors")


@pytest.fixture(scope="module")
def stylizer(model):
    return load_stylizer(model, backend="torch")


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16))


# -- tile layout -----------------------------------------------------------------


@pytest.mark.parametrize(
    "length,tile,overlap,align",
    [(100, 64, 8, 4), (1000, 256, 32, 4), (65, 64, 8, 4), (6000, 1024, 64, 4), (257, 64, 16, 1), (64, 64, 8, 4)],
)
def test_tile_spans_cover_with_overlap_and_alignment(length, tile, overlap, align):
    spans = tile_spans(length, tile, overlap, align)
    assert spans[0][0] == 0 and spans[-1][1] == length
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 > a0 and a1 - b0 >= overlap  # ordered, overlapping enough
    assert all(start % align == 0 for start, _ in spans)
    assert all(stop - start <= tile for start, stop in spans)


def test_feather_weights_sum_to_one_across_an_overlap():
    spans = tile_spans(300, 128, 32, 4)
    total = np.zeros(300, np.float32)
    for i, (start, stop) in enumerate(spans):
        total[start:stop] += span_weights(spans, i)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_tiling_is_exact_for_pointwise_functions():
    image = np.random.default_rng(0).integers(0, 256, (150, 203, 3), dtype=np.uint8)
    calls = []

    def invert(batch):
        calls.append(batch.shape)
        return 1.0 - batch

    out = stylize_tiled(image, invert, tile_size=64, overlap=16)
    assert np.array_equal(out, 255 - image)
    assert len(calls) == count_tiles(150, 203, 64, 16, 4) > 1
    assert max(max(s[2:]) for s in calls) <= 64


# -- shared instance-norm statistics ------------------------------------------------


def test_fixed_own_statistics_reproduce_the_plain_forward():
    net = make_net(styles=2)
    stats = NormStats(net)
    x = torch.rand(1, 3, 40, 52)
    w = torch.tensor([0.3, 0.7])
    with torch.no_grad():
        plain = net(x, w)
        own = stats.record(net, x, w)
        fixed = stats.run_fixed(net, x, own, w)
    assert own.shape == (1, stats.size)
    torch.testing.assert_close(fixed, plain, atol=1e-5, rtol=0)


def test_tiled_matches_untiled_with_shared_statistics(stylizer):
    # Tiny tiles (64 px) and a 96 px photo: nearly every pixel is within the
    # network's receptive field of a tile border, the hardest case for seams.
    image = photo_array(96)
    untiled = stylize_array(image, stylizer, StylizeConfig(tile_size=0, tile_overlap=0))
    cfg = StylizeConfig(tile_size=64, tile_overlap=24)
    exact = stylize_array(image, stylizer, cfg, stats_pixels=10**9)
    per_tile = stylize_tiled(image, lambda b: stylizer(b), 64, 24)  # each tile its own statistics
    assert _diff(exact, untiled).mean() < 1.0  # measured 0.38 levels
    assert _diff(exact, untiled).mean() < 0.25 * _diff(per_tile, untiled).mean()  # per tile: 3.7
    # The default takes the statistics from a downscaled copy: no seams, a small global shift.
    default = stylize_array(image, stylizer, cfg)
    assert _diff(default, untiled).mean() < 6


# -- style weights ---------------------------------------------------------------------


def test_style_weights_blend_the_conditional_norms(stylizer):
    image = photo_array(48)
    base = StylizeConfig(tile_size=0, tile_overlap=0)
    first = stylize_array(image, stylizer, base)
    assert np.array_equal(stylize_array(image, stylizer, base.replace(style_weights=(1.0, 0.0))), first)
    second = stylize_array(image, stylizer, base.replace(style_weights=(0.0, 1.0)))
    assert _diff(first, second).mean() > 5  # the styles differ
    half = stylize_array(image, stylizer, base.replace(style_weights=(2.0, 2.0)))  # normalized to 0.5, 0.5
    with torch.no_grad():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        direct = stylizer.net(x, torch.tensor([0.5, 0.5]))[0].permute(1, 2, 0).mul(255).round().numpy()
    assert _diff(half, direct.astype(np.uint8)).max() <= 1


def test_parse_style_weights():
    styles = ["starry", "wave", "scream"]
    assert parse_style_weights("starry:0.7,wave:0.3", styles) == (0.7, 0.3, 0.0)
    assert parse_style_weights("0.2, 0.3, 0.5", styles) == (0.2, 0.3, 0.5)
    assert parse_style_weights("wave", styles) == (0.0, 1.0, 0.0)
    assert parse_style_weights("starry,scream", styles) == (1.0, 0.0, 1.0)
    assert parse_style_weights("2:1", styles) == (0.0, 0.0, 1.0)
    with pytest.raises(UsageError, match="did you mean 'starry'"):
        parse_style_weights("stary:1", styles)
    with pytest.raises(UsageError, match="2 numbers but the model has 3"):
        parse_style_weights("0.5,0.5", styles)
    with pytest.raises(UsageError, match="not a number"):
        parse_style_weights("wave:lots", styles)


def test_style_weight_vector_checks_counts():
    np.testing.assert_allclose(style_weight_vector((), ["a", "b"]), [1, 0])
    np.testing.assert_allclose(style_weight_vector((1, 3), ["a", "b"]), [0.25, 0.75])
    with pytest.raises(ConfigError, match="3 values but the model has 2"):
        style_weight_vector((1, 1, 1), ["a", "b"])


# -- strength, colour ------------------------------------------------------------------


def test_strength_zero_returns_the_photo(stylizer):
    image = photo_array(64)
    assert np.array_equal(stylize_array(image, stylizer, StylizeConfig(strength=0.0)), image)
    full = stylize_array(image, stylizer, StylizeConfig())
    half = stylize_array(image, stylizer, StylizeConfig(strength=0.5))
    expected = np.rint(0.5 * full.astype(np.float32) + 0.5 * image.astype(np.float32))
    assert _diff(half, expected.astype(np.uint8)).max() <= 1


def test_preserve_color_keeps_the_photo_chroma(stylizer):
    image = photo_array(64)
    out = stylize_array(image, stylizer, StylizeConfig(preserve_color="luminance"))
    yiq = np.array([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
    iq = lambda a: (a.astype(np.float64) / 255) @ yiq[1:].T  # noqa: E731
    # Only clamping to [0, 1] and 8-bit rounding may move the chroma.
    assert np.median(np.abs(iq(out) - iq(image))) < 0.01
    hist = stylize_array(image, stylizer, StylizeConfig(preserve_color="histogram"))
    np.testing.assert_allclose(hist.reshape(-1, 3).mean(0), image.reshape(-1, 3).mean(0), atol=3)


def test_numpy_colour_helpers_match_the_tensor_ones():
    a, b = photo_array(64), np.ascontiguousarray(np.flip(photo_array(64), axis=0))
    t = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    u = lambda x: x[0].permute(1, 2, 0).mul(255).round().to(torch.uint8).numpy()  # noqa: E731
    assert _diff(combine_luminance_array(a, b, rows=7), u(combine_luminance(t(a), t(b)))).max() <= 1
    for mode in ("pca", "chol", "sym"):
        assert _diff(match_histogram_array(a, b, mode=mode, rows=5), u(match_histogram(t(a), t(b), mode=mode))).max() <= 1
    assert np.array_equal(blend_array(a, b, 0.0), b) and np.array_equal(blend_array(a, b, 1.0), a)


# -- the public function ------------------------------------------------------------------


def test_stylize_takes_paths_pil_images_and_tensors(model, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(photo_array(40)).save(photo)
    from_path = stylize(photo, str(model))
    assert isinstance(from_path, Image.Image) and from_path.size == (40, 27)
    from_pil = stylize(Image.open(photo), str(model), config=StylizeConfig(size=32))
    assert from_pil.size == (32, 22)
    tensor = torch.from_numpy(photo_array(40)).permute(2, 0, 1)[None].float() / 255
    out = stylize(tensor, str(model))
    assert isinstance(out, Image.Image) and out.size == (40, 27)
    assert np.array_equal(np.asarray(from_path), np.asarray(out))


def test_stylize_config_validation():
    with pytest.raises(ConfigError, match="strength"):
        StylizeConfig(strength=1.5)
    with pytest.raises(ConfigError, match="tile_overlap"):
        StylizeConfig(tile_size=128, tile_overlap=100)
    with pytest.raises(ConfigError, match="did you mean 'onnx'"):
        StylizeConfig(backend="onx")
    with pytest.raises(UsageError, match="no model given"):
        stylize(photo_array(16), config=StylizeConfig())
    with pytest.raises(UsageError):
        stylize_array(np.zeros((4, 4), np.uint8), None, StylizeConfig())  # type: ignore[arg-type]


def test_unreadable_image_is_an_image_error(model, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ImageError):
        stylize(bad, str(model))
