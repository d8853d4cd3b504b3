"""Tests for the feed-forward networks (models/transformer.py) and the model file format
(models/checkpoints.py)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from painterly.errors import ConfigError, ModelError
from painterly.models import checkpoints
from painterly.models.checkpoints import (
    FORMAT_VERSION,
    find_model,
    list_models,
    load_model,
    make_meta,
    model_bytes,
    read_model_info,
    save_model,
)
from painterly.models.transformer import (
    ARCHITECTURES,
    CondInstanceNorm,
    build_network,
    count_flops,
    pad_input,
)


def _perturbed(architecture: str, n_styles: int, seed: int = 0) -> torch.nn.Module:
    """A network whose per-style norm parameters differ (fresh ones are all 1/0)."""
    torch.manual_seed(seed)
    net = build_network(architecture, n_styles)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return net.eval()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("hw", [(1, 1), (5, 7), (33, 18), (40, 64)])
def test_shapes_and_range(architecture: str, hw: tuple) -> None:
    net = _perturbed(architecture, 2)
    x = torch.rand(2, 3, *hw)
    with torch.no_grad():
        y = net(x, torch.tensor([0.3, 0.7]))
    assert y.shape == x.shape
    assert y.dtype == torch.float32
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_one_hot_blend_equals_single_style_and_none_is_style_0(architecture: str) -> None:
    net = _perturbed(architecture, 3)
    x = torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        outs = [net(x, torch.eye(3)[s]) for s in range(3)]
        none = net(x)
        batched = net(x.expand(3, -1, -1, -1), torch.eye(3))
    assert torch.equal(none, outs[0])
    assert not torch.allclose(outs[0], outs[1], atol=1e-3)  # the styles really differ
    for s in range(3):
        torch.testing.assert_close(batched[s : s + 1], outs[s], rtol=0, atol=2e-5)


def test_blend_mixes_norm_parameters_linearly() -> None:
    """Weights (a, b) must equal a 1-style network whose gamma/beta are a*row0 + b*row1."""
    net = _perturbed("fast", 2)
    single = build_network("fast", 1)
    a, b = 0.25, 0.75
    state = {}
    for key, value in net.state_dict().items():
        is_norm = key.endswith("norm.weight") or key.endswith("norm.bias")
        state[key] = (a * value[0] + b * value[1]).unsqueeze(0) if is_norm else value
    single.load_state_dict(state)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x, [a, b]), single.eval()(x), rtol=0, atol=1e-5)


def test_forward_padded_is_the_core_of_forward() -> None:
    net = _perturbed("fast", 1)
    x = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        padded = pad_input(x)
        assert padded.shape[-2:] == (24, 32)
        core = net.forward_padded(padded, torch.ones(1, 1))[:, :, :21, :30]
        torch.testing.assert_close(core, net(x), rtol=0, atol=0)


def test_gradients_reach_every_parameter() -> None:
    net = build_network("fast", 2)
    x = torch.rand(2, 3, 16, 16)
    net(x, torch.tensor([[1.0, 0.0], [0.5, 0.5]])).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_flops_fast_is_at_least_4x_cheaper_than_johnson() -> None:
    fast = count_flops(build_network("fast"), 768, 1024)
    johnson = count_flops(build_network("johnson"), 768, 1024)
    assert johnson > 4 * fast > 0
    # Johnson et al. by hand: about 153.8k multiply-adds per output pixel.
    assert johnson / (768 * 1024) == pytest.approx(2 * 153_792, rel=0.01)


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'fast'"):
        build_network("fats")
    with pytest.raises(ConfigError, match="unknown option"):
        build_network("fast", width=3)
    with pytest.raises(ConfigError, match="channel"):
        build_network("johnson", channels=[32, 64])
    net = build_network("fast", 2)
    with pytest.raises(ConfigError, match="style_weights"):
        net(torch.rand(1, 3, 8, 8), [1.0, 0.0, 0.0])
    with pytest.raises(ConfigError, match="B, 3, H, W"):
        net(torch.rand(3, 8, 8))


def test_norm_parameters_are_per_style() -> None:
    norm = CondInstanceNorm(4, 3)
    assert norm.weight.shape == (3, 4) and norm.bias.shape == (3, 4)


# -- model files --------------------------------------------------------------


@pytest.fixture()
def models_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user models folder (and no bundled models leaking in)."""
    home = tmp_path / "models"
    home.mkdir()
    monkeypatch.setenv("PAINTERLY_MODELS", str(home))
    monkeypatch.setattr(checkpoints, "bundled_models_dir", lambda: tmp_path / "bundled")
    return home


def _save(path: Path, architecture: str = "fast", styles=("starry", "wave")) -> torch.nn.Module:
    net = _perturbed(architecture, len(styles))
    save_model(path, net, make_meta(net, list(styles), {"iterations": 3}))
    return net


def test_model_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    net = _save(path)
    info = read_model_info(path)
    assert (info.name, info.kind, info.architecture, info.styles) == ("m", "feedforward", "fast", ["starry", "wave"])
    assert info.options == net.options and info.size_bytes == path.stat().st_size
    assert info.meta["format_version"] == FORMAT_VERSION and info.meta["train"] == {"iterations": 3}
    loaded, info2 = load_model(path)
    assert info2.styles == info.styles
    for (k, a), (k2, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert not list(tmp_path.glob(".*"))  # the atomic write left no temp file


def test_read_model_info_does_not_import_torch(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    _save(path)
    code = (
        "import sys; from painterly.models.checkpoints import read_model_info; "
        f"info = read_model_info({str(path)!r}); assert info.styles == ['starry', 'wave']; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_corrupt_and_foreign_files_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    _save(good)
    blob = good.read_bytes()
    cases = {
        "truncated.safetensors": (blob[:-100], "truncated"),
        "garbage.safetensors": (b"\x00garbage" * 10, "corrupt"),
        "tiny.safetensors": (b"abc", "too short"),
        "header.safetensors": (struct.pack("<Q", 20) + b"{not json at all....}", "not JSON"),
    }
    from safetensors.torch import save as st_save

    cases["plain.safetensors"] = (st_save({"w": torch.zeros(2)}), "not a painterly model")
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ModelError, match=message):
            read_model_info(path)
    flipped = bytearray(blob)
    flipped[-3] ^= 0xFF  # inside the tensor data: the header is fine, the checksum is not
    (tmp_path / "flipped.safetensors").write_bytes(bytes(flipped))
    read_model_info(tmp_path / "flipped.safetensors")
    with pytest.raises(ModelError, match="checksum"):
        load_model(tmp_path / "flipped.safetensors")


def test_newer_format_version_is_refused(tmp_path: Path) -> None:
    net = build_network("fast", 1)
    meta = make_meta(net, ["s"])
    meta["format_version"] = FORMAT_VERSION + 1
    path = tmp_path / "future.safetensors"
    path.write_bytes(model_bytes(net, meta))
    with pytest.raises(ModelError, match="newer painterly"):
        read_model_info(path)
    with pytest.raises(ModelError, match="newer painterly"):
        load_model(path)


def test_save_model_checks_suffix_and_style_count(tmp_path: Path) -> None:
    net = build_network("fast", 2)
    with pytest.raises(ModelError, match=".safetensors"):
        save_model(tmp_path / "m.pt", net, make_meta(net, ["a", "b"]))
    with pytest.raises(ModelError, match="styles"):
        save_model(tmp_path / "m.safetensors", net, make_meta(net, ["a"]))


def test_find_and_list_models_by_name(models_home: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no models installed"):
        find_model("starry")
    _save(models_home / "starry.safetensors")
    _save(models_home / "wave.safetensors", "johnson", styles=("wave",))
    (models_home / "broken.safetensors").write_bytes(b"junk")
    (models_home / "notes.txt").write_text("not a model")
    assert find_model("starry") == models_home / "starry.safetensors"
    assert find_model("wave.safetensors") == models_home / "wave.safetensors"
    with pytest.raises(ModelError, match=r"did you mean 'starry'\?.*available: broken, starry, wave"):
        find_model("stary")
    with pytest.raises(ModelError, match="not found"):
        find_model(str(tmp_path / "nowhere" / "m.safetensors"))
    errors: list = []
    infos = list_models(errors=errors)
    assert [(i.name, i.architecture, i.styles) for i in infos] == [
        ("starry", "fast", ["starry", "wave"]),
        ("wave", "johnson", ["wave"]),
    ]
    assert [p.name for p, _ in errors] == ["broken.safetensors"]
    net, info = load_model("wave")
    assert net.architecture == "johnson" and info.path == models_home / "wave.safetensors"


def test_onnx_metadata_is_read_and_listed_once(models_home: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    net = _save(models_home / "starry.safetensors")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph)
    meta = make_meta(net, ["starry", "wave"])
    helper.set_model_props(model, {"painterly": json.dumps(meta)})
    onnx.save(model, str(models_home / "starry.onnx"))
    info = read_model_info(models_home / "starry.onnx")
    assert info.format == "onnx" and info.styles == ["starry", "wave"]
    assert find_model("starry") == models_home / "starry.onnx"  # default preference
    assert find_model("starry", prefer=(".safetensors",)) == models_home / "starry.safetensors"
    assert [i.path.name for i in list_models()] == ["starry.onnx"]
    with pytest.raises(ModelError, match="onnxruntime"):
        load_model(models_home / "starry.onnx")
    (models_home / "bad.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelError):
        read_model_info(models_home / "bad.onnx")
