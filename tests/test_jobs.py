"""The job layer: public API from any thread, cancel, one progress type, configs from dicts, run_job."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import painterly
from painterly.config import (
    AdaINTrainConfig,
    StylizeConfig,
    TrainConfig,
    TransferConfig,
    config_from_dict,
    config_from_json,
    config_schema,
    config_to_dict,
)
from painterly.errors import Cancelled, ConfigError
from painterly.jobs.run import JobSpec, run_job
from painterly.progress import Progress

DATA = Path(painterly.__file__).resolve().parent / "data"


def _in_thread(fn, *args, **kwargs):
    """Run ``fn`` in a worker thread; return (outcome or exception, seconds)."""
    box = {}

    def work():
        start = time.perf_counter()
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["value"] = exc
        box["seconds"] = time.perf_counter() - start

    thread = threading.Thread(target=work)
    thread.start()
    return thread, box


def _cancel_when(cancel: threading.Event, condition):
    """A progress callback that records events and sets ``cancel`` when ``condition(event)``."""
    events = []

    def on_progress(event):
        events.append(event)
        if condition(event):
            cancel.set()

    return on_progress, events


# ------------------------------------------------------------------ cancel from another thread


def test_cancel_stops_an_optimization_within_one_iteration_and_keeps_the_best_image(content_path, style_path):
    cancel = threading.Event()
    seen = []
    cfg = TransferConfig(size=64, iterations=500, multiscale=False, style_size=64, tolerance=0)
    thread, box = _in_thread(painterly.transfer, str(content_path), str(style_path), cfg,
                             on_progress=seen.append, cancel=cancel)
    while len(seen) < 3:
        time.sleep(0.01)
    asked = time.perf_counter()
    cancel.set()
    thread.join(timeout=10)
    assert time.perf_counter() - asked < 2.0
    exc = box["value"]
    assert isinstance(exc, Cancelled) and isinstance(exc, painterly.PainterlyError)
    assert exc.image.size == (64, 43)
    assert exc.result.iterations < 500 and exc.result.losses
    # The best image is a painting, not the photo it started from.
    photo = np.asarray(Image.open(content_path).convert("RGB").resize((64, 43)), dtype=np.float32)
    assert np.abs(np.asarray(exc.image, dtype=np.float32) - photo).mean() > 1.0


def test_cancel_stops_a_trained_model_between_tiles(tmp_path):
    cancel = threading.Event()
    on_progress, events = _cancel_when(cancel, lambda e: e.step == 2)
    cfg = StylizeConfig(size=512, tile_size=64, tile_overlap=8)
    thread, box = _in_thread(painterly.stylize, DATA / "chelsea.jpg", "wave", config=cfg,
                             on_progress=on_progress, cancel=cancel)
    thread.join(timeout=20)
    assert isinstance(box["value"], Cancelled) and box["value"].image is None
    total = events[0].total
    assert total > 20 and len(events) == 2  # stopped right after the tile that set it, out of dozens
    assert all(e.kind == "stylize" for e in events)


def test_cancel_stops_a_folder_job_before_the_next_image(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        Image.open(DATA / "chelsea.jpg").convert("RGB").resize((64, 43)).save(folder / f"p{i}.png")
    cancel = threading.Event()
    on_progress, _ = _cancel_when(cancel, lambda e: e.kind == "job" and e.step == 1)
    cfg = StylizeConfig(style_images=(str(DATA / "starry_night.jpg"),), size=64)
    result = run_job(JobSpec("arbitrary", (str(folder),), str(tmp_path / "out"), cfg),
                     on_progress=on_progress, cancel=cancel)
    assert result.cancelled and not result.ok
    # A one-pass job writes each image while the next one paints, so image 1 is
    # reported once image 2 is painted: that one is kept, nothing later is started.
    assert [i.status for i in result.items] == ["done", "done", "cancelled", "cancelled"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png"]


def test_cancel_stops_training_with_a_checkpoint(tmp_path, content_path, style_path):
    from painterly.fast.train import train

    data = tmp_path / "photos"
    data.mkdir()
    for i in range(2):
        Image.open(content_path).save(data / f"{i}.png")
    cancel = threading.Event()
    on_progress, events = _cancel_when(cancel, lambda e: e.step == 2)
    cfg = TrainConfig(styles=(str(style_path),), data=str(data), output=str(tmp_path / "m.safetensors"),
                      iterations=50, image_size=32, batch_size=1, style_size=32, checkpoint_every=100, device="cpu")
    thread, box = _in_thread(train, cfg, on_progress, cancel=cancel)
    thread.join(timeout=60)
    exc = box["value"]
    assert isinstance(exc, Cancelled), exc
    assert exc.result.iterations == 2 and exc.result.interrupted
    assert Path(exc.result.checkpoint_path).is_file()
    assert all(isinstance(e, Progress) and e.kind == "train" for e in events)


# ------------------------------------------------------------------ progress and inputs


def test_every_method_reports_the_one_progress_type(content_path, style_path):
    kinds = {}
    for name, call in {
        "transfer": lambda cb: painterly.transfer(content_path, style_path, TransferConfig(size=48, iterations=3, multiscale=False, style_size=48), on_progress=cb),
        "stylize": lambda cb: painterly.stylize(content_path, "wave", on_progress=cb),
        "arbitrary": lambda cb: painterly.stylize(content_path, style_images=[style_path], on_progress=cb),
    }.items():
        events = []
        call(events.append)
        assert events and all(type(e) is Progress for e in events)
        last = events[-1]
        assert last.fraction == pytest.approx(1.0) and last.eta == pytest.approx(0.0, abs=1e-6)
        kinds[name] = {e.kind for e in events}
        assert set(last.to_dict()) >= {"kind", "step", "total", "fraction", "eta", "losses"}
    assert kinds == {"transfer": {"transfer"}, "stylize": {"stylize"}, "arbitrary": {"arbitrary"}}


def test_optimization_progress_gives_a_preview_on_demand(content_path, style_path):
    previews = []
    painterly.transfer(content_path, style_path, TransferConfig(size=48, iterations=2, multiscale=False, style_size=48),
                       on_progress=lambda e: previews.append(e.preview(max_side=24)))
    assert all(isinstance(p, Image.Image) and max(p.size) == 24 for p in previews)


def test_every_input_kind_gives_the_same_picture(content_path):
    import torch

    with Image.open(content_path) as img:
        pil = img.convert("RGB")
    array = np.array(pil)
    tensor = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).float() / 255
    inputs = {
        "path": str(content_path),
        "pathlib": content_path,
        "file": io.BytesIO(content_path.read_bytes()),
        "pil": pil,
        "uint8 array": array,
        "float array": array.astype(np.float32) / 255,
        "tensor": tensor,
    }
    model = painterly.load_model("wave")
    outputs = {name: np.asarray(painterly.stylize(value, model)) for name, value in inputs.items()}
    reference = outputs.pop("path")
    for name, out in outputs.items():
        assert isinstance(out, np.ndarray) and out.shape == reference.shape, name
        assert np.array_equal(out, reference), name


def test_models_are_listed_and_unknown_ones_named(content_path):
    names = {m.name for m in painterly.list_models()}
    assert {"wave", "starry_night", "adain"} <= names
    with pytest.raises(painterly.ModelError, match="did you mean 'wave'"):
        painterly.stylize(content_path, "wavee")


# ------------------------------------------------------------------ configs from dicts and JSON


@pytest.mark.parametrize("cls", [TransferConfig, StylizeConfig, TrainConfig, AdaINTrainConfig])
def test_every_config_round_trips_through_json(cls):
    cfg = cls()
    data = config_to_dict(cfg)
    import json

    assert config_from_dict(cls, data) == cfg
    assert config_from_json(cls, json.dumps(data)) == cfg
    assert {f["name"] for f in config_schema(cls)} == set(data)


def test_config_errors_carry_the_field_value_and_choices():
    with pytest.raises(ConfigError) as unknown:
        config_from_dict(TransferConfig, {"style_wieght": 3})
    assert unknown.value.field == "style_wieght" and "style_weight" in unknown.value.choices
    assert "did you mean 'style_weight'" in str(unknown.value)
    with pytest.raises(ConfigError) as choice:
        config_from_dict(TransferConfig, {"optimizer": "sgd"})
    assert (choice.value.field, choice.value.value, choice.value.choices) == ("optimizer", "sgd", ("lbfgs", "adam"))
    with pytest.raises(ConfigError) as bad_range:
        config_from_dict(StylizeConfig, {"strength": 1.5})
    assert (bad_range.value.field, bad_range.value.value) == ("strength", 1.5)
    with pytest.raises(ConfigError) as bad_type:
        config_from_dict(TransferConfig, {"size": "large"})
    assert bad_type.value.field == "size"
    with pytest.raises(ConfigError, match="not valid JSON"):
        config_from_json(TransferConfig, "{size: 3")
    # Form values arrive as strings; lists as JSON arrays or comma-separated text.
    cfg = config_from_dict(TransferConfig, {"size": "128", "multiscale": "false", "style_layers": "relu1_1,relu2_1"})
    assert (cfg.size, cfg.multiscale, cfg.style_layers) == (128, False, ("relu1_1", "relu2_1"))


def test_library_messages_do_not_name_command_line_flags(content_path):
    messages = []
    for data in ({"size": 3}, {"optimizer": "x"}, {"style_weight": -1}):
        with pytest.raises(ConfigError) as err:
            config_from_dict(TransferConfig, data)
        messages.append(str(err.value))
    with pytest.raises(ConfigError) as err:
        painterly.stylize(content_path)
    messages.append(str(err.value))
    assert messages and not any("--" in m for m in messages), messages


# ------------------------------------------------------------------ run_job


def test_a_folder_job_records_a_corrupt_file_and_goes_on(tmp_path, content_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(content_path).save(folder / "a.png")
    (folder / "b.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "c.png").write_bytes(b"")
    Image.open(content_path).save(folder / "d.jpg")
    out = tmp_path / "out"
    result = run_job(JobSpec("stylize", (str(folder),), str(out), StylizeConfig(model="wave"), save_config=True))
    status = {Path(i.input).name: i.status for i in result.items}
    assert status == {"a.png": "done", "b.jpg": "failed", "c.png": "failed", "d.jpg": "done"}
    failed = [i for i in result.items if i.status == "failed"]
    assert all(i.output is None and i.error and "\n" not in i.error for i in failed)
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "a.png.json", "d.jpg", "d.jpg.json"]
    assert config_from_json(StylizeConfig, (out / "a.png.json").read_text()).model == "wave"
    assert not result.ok and result.count("done") == 2
    assert set(result.items[0].to_dict()) >= {"input", "output", "status", "seconds", "error", "losses"}


def test_a_failed_image_leaves_the_existing_output_untouched(tmp_path):
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out.png"
    out.write_bytes(b"the user's earlier result")
    result = run_job(JobSpec("stylize", (str(bad),), str(out), StylizeConfig(model="wave")))
    assert result.items[0].status == "failed"
    assert out.read_bytes() == b"the user's earlier result"


def test_an_output_never_replaces_its_input(tmp_path, content_path):
    folder = tmp_path / "in"
    folder.mkdir()
    photo = folder / "a.png"
    photo.write_bytes(content_path.read_bytes())
    before = photo.read_bytes()
    result = run_job(JobSpec("stylize", (str(folder),), str(folder), StylizeConfig(model="wave")))
    assert result.items[0].status == "failed" and "overwrite" in result.items[0].error
    assert photo.read_bytes() == before


def test_bad_settings_fail_before_any_work(tmp_path, content_path):
    with pytest.raises(ConfigError) as err:
        run_job(JobSpec("paint", (str(content_path),), str(tmp_path / "o.png")))
    assert err.value.field == "method" and err.value.choices == ("transfer", "stylize", "arbitrary")
    with pytest.raises(painterly.PainterlyError, match="unknown|format|extension"):
        run_job(JobSpec("stylize", (str(content_path),), str(tmp_path / "o.xyz"), StylizeConfig(model="wave")))
    assert not list(tmp_path.glob("o.*"))


def test_a_job_never_imports_the_cli_or_the_service(tmp_path, content_path):
    code = (
        "import sys, painterly\n"
        "from painterly.jobs.run import JobSpec, run_job\n"
        "from painterly.config import StylizeConfig\n"
        f"r = run_job(JobSpec('stylize', ({str(content_path)!r},), {str(tmp_path / 'o.png')!r}, StylizeConfig(model='wave')))\n"
        "assert r.ok, r\n"
        "bad = [m for m in sys.modules if m.startswith(('painterly.cli', 'painterly.service'))]\n"
        "assert not bad, bad\n"
        "assert 'torch' not in sys.modules  # an ONNX model runs without torch\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _photo_folder(folder: Path, count: int, bad_at: int = -1) -> Path:
    folder.mkdir()
    photos = [DATA / "chelsea.jpg", DATA / "astronaut.jpg"]
    for i in range(count):
        if i == bad_at:
            (folder / f"p{i}.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
            continue
        image = Image.open(photos[i % 2]).convert("RGB")
        image.crop((i * 7, 0, image.width - i * 5, image.height)).resize((150 + 4 * i, 100)).save(folder / f"p{i}.png")
    return folder


def test_paint_lanes_only_for_folders_through_trained_models():
    from painterly.jobs.painters import paint_lanes, usable_cores

    two = 2 if usable_cores() >= 2 else 1
    assert paint_lanes("stylize", StylizeConfig(model="wave"), 5) == two
    assert paint_lanes("stylize", StylizeConfig(model="wave"), 1) == 1  # one photo: all cores on it
    assert paint_lanes("stylize", StylizeConfig(model="wave", threads=1), 5) == 1  # the user chose
    assert paint_lanes("arbitrary", StylizeConfig(style_images=("x.jpg",)), 5) == 1
    assert paint_lanes("transfer", TransferConfig(), 5) == 1


@pytest.mark.parametrize("tile", [0, 64])
def test_a_folder_in_two_lanes_matches_one_at_a_time_in_input_order(tmp_path, tile):
    from painterly.jobs.painters import make_painter

    folder = _photo_folder(tmp_path / "in", 6, bad_at=3)
    # Tiled, both lanes share the statistics session that the first tiled photo loads.
    cfg = StylizeConfig(model="wave", tile_size=tile, tile_overlap=16 if tile else 0)
    painter = make_painter("stylize", cfg, lanes=2)
    assert painter.lanes == 2
    events = []
    lanes = run_job(JobSpec("stylize", (str(folder),), str(tmp_path / "two"), cfg), painter=painter,
                    on_progress=events.append)
    single = run_job(JobSpec("stylize", (str(folder),), str(tmp_path / "one"), cfg.replace(threads=1)))
    assert [Path(i.input).name for i in lanes.items] == [f"p{i}.{'jpg' if i == 3 else 'png'}" for i in range(6)]
    assert [i.status for i in lanes.items] == ["done"] * 3 + ["failed"] + ["done"] * 2
    assert [i.status for i in single.items] == [i.status for i in lanes.items]
    for a, b in zip(lanes.items, single.items):
        if a.status == "done":
            assert a.size == b.size
            np.testing.assert_array_equal(np.asarray(Image.open(a.output)), np.asarray(Image.open(b.output)))
    assert [e.step for e in events if e.kind == "job"] == [1, 2, 3, 4, 5, 6]  # in input order
    # Each image's own events carry its index, whichever lane painted it.
    assert {e.item for e in events if e.kind == "stylize"} == {0, 1, 2, 4, 5}
    if tile:
        assert painter.stylizer._stats_session is not None and max(e.total for e in events if e.kind == "stylize") > 1


def test_a_cancel_stops_the_lanes_and_keeps_what_was_written(tmp_path):
    from painterly.jobs.painters import make_painter

    folder = _photo_folder(tmp_path / "in", 6)
    cancel = threading.Event()
    on_progress, _ = _cancel_when(cancel, lambda e: e.kind == "job" and e.step == 1)
    painter = make_painter("stylize", StylizeConfig(model="wave"), lanes=2)
    result = run_job(JobSpec("stylize", (str(folder),), str(tmp_path / "out"), painter.config), painter=painter,
                     on_progress=on_progress, cancel=cancel)
    statuses = [i.status for i in result.items]
    assert result.cancelled and len(statuses) == 6
    # Image 2 was in flight when the cancel came: written if it was already painting, else not.
    assert statuses[0] == "done" and statuses[1] in ("done", "cancelled") and statuses[2:] == ["cancelled"] * 4
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"p{i}.png" for i, s in enumerate(statuses) if s == "done"]
