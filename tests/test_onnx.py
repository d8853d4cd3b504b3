"""ONNX export and the torch-free onnxruntime backend."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fast_fixtures import PHOTO, photo_array, save_tiny_model
from painterly.config import StylizeConfig
from painterly.errors import ModelError, UsageError
from painterly.fast.onnx_export import export_onnx
from painterly.fast.stylize import load_stylizer, resolve_model, stylize_array
from painterly.models.checkpoints import read_model_info

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    st = save_tiny_model(folder / "tiny.safetensors")
    return st, export_onnx(st, folder / "tiny.onnx")


def test_export_round_trip_keeps_the_metadata(models):
    st, path = models
    info, original = read_model_info(path), read_model_info(st)
    assert (info.styles, info.architecture, info.options, info.kind) == (
        original.styles, original.architecture, original.options, "feedforward"
    )
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    meta = json.loads({p.key: p.value for p in model.metadata_props}["painterly"])
    assert meta["styles"] == ["starry", "wave"] and meta["onnx"]["opset"] == 17
    assert [i.name for i in model.graph.input] == ["image", "style_weights", "norm_stats", "use_norm_stats", "record_norm_stats"]
    assert [o.name for o in model.graph.output][0] == "stylized"
    assert not list(path.parent.glob(".tiny.onnx*"))  # no temp file left by the atomic write


@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 16, 24), (1, 3, 8, 9), (1, 3, 5, 6)])
def test_dynamic_sizes_and_batch_match_torch(models, shape):
    st, path = models
    torch_run, onnx_run = load_stylizer(st), load_stylizer(path)
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    w = np.array([0.25, 0.75], np.float32)
    np.testing.assert_allclose(onnx_run(x, w), torch_run(x, w), atol=2e-5)


def test_plain_onnx_users_need_only_the_image(models):
    session = ort.InferenceSession(str(models[1]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "style_weights"]
    x = np.random.default_rng(2).random((1, 3, 20, 28), dtype=np.float32)
    (y,) = session.run(["stylized"], {"image": x, "style_weights": np.array([[1, 0]], np.float32)})
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1


@pytest.mark.parametrize("tile", [0, 64])
def test_parity_with_torch_on_a_real_photo(models, tile):
    st, path = models
    image = photo_array(160)
    cfg = StylizeConfig(style_weights=(0.4, 0.6), tile_size=tile, tile_overlap=16 if tile else 0)
    a = stylize_array(image, load_stylizer(st), cfg)
    b = stylize_array(image, load_stylizer(path), cfg)
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))  # in 8-bit levels
    # The target is a mean under 1/255 (one level); float rounding flips a few pixels by one level.
    assert diff.mean() < 0.05 and diff.max() <= 1


def test_backend_choice(models):
    st, path = models
    assert resolve_model(path) == (path, "onnx")
    assert resolve_model(st) == (st, "torch")
    with pytest.raises(UsageError, match="export it first"):
        resolve_model(st, "onnx")
    with pytest.raises(UsageError, match="cannot run"):
        resolve_model(path, "torch")


def test_export_refuses_other_suffixes_and_corrupt_models(models, tmp_path):
    with pytest.raises(UsageError, match=r"\.onnx"):
        export_onnx(models[0], tmp_path / "model.bin")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(models[1].read_bytes()[:2000])
    with pytest.raises(ModelError, match="corrupt"):
        load_stylizer(broken)


def test_onnx_stylize_never_imports_torch(models, tmp_path):
    out = tmp_path / "out.jpg"
    code = textwrap.dedent(
        f"""
        import sys
        from painterly.cli.main import main
        code = main(["stylize", {str(PHOTO)!r}, "--model", {str(models[1])!r}, "-o", {str(out)!r},
                     "--size", "48", "--tile-size", "64", "--tile-overlap", "16", "-q"])
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        print(code, loaded)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "0 []", result.stdout + result.stderr
    assert out.is_file()


def test_statistics_switches_become_constants_for_whole_pictures(models):
    from painterly.onnx_graph import graph_inputs, without_inputs

    data = models[1].read_bytes()
    names = ["norm_stats", "use_norm_stats", "record_norm_stats"]
    assert graph_inputs(data) == ["image", "style_weights", *names]
    plain, dropped = without_inputs(data, names)
    assert dropped == set(names)
    edited = onnx.load_from_string(plain)
    onnx.checker.check_model(edited)
    assert [i.name for i in edited.graph.input] == ["image", "style_weights"]
    # Everything else is byte for byte the same: the weights, the metadata, the outputs.
    assert {i.name for i in edited.graph.initializer} == {i.name for i in onnx.load(str(models[1])).graph.initializer}
    assert {p.key: p.value for p in edited.metadata_props} == {
        p.key: p.value for p in onnx.load(str(models[1])).metadata_props}
    x = np.random.default_rng(3).random((1, 3, 36, 44), dtype=np.float32)
    feed = {"image": x, "style_weights": np.array([[0.3, 0.7]], np.float32)}
    before = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(["stylized"], feed)[0]
    after = ort.InferenceSession(plain, providers=["CPUExecutionProvider"]).run(["stylized"], feed)[0]
    np.testing.assert_allclose(after, before, atol=1e-5)
    # The stylizer paints whole pictures with the edited graph and loads the file as it is only for tiles.
    stylizer = load_stylizer(models[1])
    assert stylizer.supports_norm_stats and stylizer._stats_session is None
    assert [i.name for i in stylizer.session.get_inputs()] == ["image", "style_weights"]
    assert stylizer.norm_stats(x).shape[0] == 1 and stylizer._stats_session is not None


def test_graph_edit_refuses_what_is_not_protobuf_and_keeps_unmatched_models(models):
    from painterly.onnx_graph import without_inputs

    data = models[1].read_bytes()
    assert without_inputs(data, ["no_such_input"]) == (data, set())
    for junk in (b"\xff" * 16, data[:2000], b"\x0b\x0c"):
        with pytest.raises(ValueError):
            without_inputs(junk, ["norm_stats"])
