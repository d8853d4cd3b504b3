"""``painterly batch`` on the local worker pool: real spawned workers, real images, real signals.

The Ray runner has its own file (tests/test_batch_ray.py, a real local cluster).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

import painterly.batch
from painterly.batch.manifest import Manifest, read_manifest
from painterly.batch.run import parse_resources
from painterly.cli.main import main
from painterly.errors import UsageError

DATA = Path(painterly.batch.__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[1]


def _photo(src: str, dst: Path, size: int) -> Path:
    with Image.open(DATA / src) as img:
        img = img.convert("RGB")
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
        img.save(dst, quality=92)
    return dst


def photos(folder: Path, size: int = 80, corrupt: bool = False) -> Path:
    """Four real photos (PNG and JPEG) at ``size`` px, and a corrupt JPEG when asked."""
    folder.mkdir(parents=True, exist_ok=True)
    _photo("chelsea.jpg", folder / "cat.png", size)
    _photo("astronaut.jpg", folder / "astronaut.jpg", size)
    _photo("wave.jpg", folder / "wave.png", size)
    _photo("chelsea.jpg", folder / "cat_small.jpg", size * 3 // 4)
    if corrupt:
        (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def same_files(a: Path, b: Path, names) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


IMAGES = ["astronaut.jpg", "cat.png", "cat_small.jpg", "wave.png"]


def test_pool_writes_the_bytes_of_stylize_and_records_the_corrupt_file(capsys, tmp_path):
    src = photos(tmp_path / "in", corrupt=True)
    code, _, _ = run(capsys, "stylize", src, "-o", tmp_path / "ref", "--model", "wave")
    assert code == 1  # the corrupt file
    code, out, err = run(capsys, "batch", src, "-o", tmp_path / "out", "--model", "wave", "--workers", "2", "--json")
    assert code == 1
    same_files(tmp_path / "ref", tmp_path / "out", IMAGES)
    report = json.loads(out)
    assert report["counts"] == {"done": 4, "failed": 1, "cancelled": 0, "skipped": 0, "pending": 0}
    assert report["runner"].startswith("local pool, 2 workers")
    records = read_manifest(tmp_path / "out" / "painterly-batch.jsonl")
    assert len(records) == 5
    bad = [r for r in records if r["status"] == "failed"]
    assert len(bad) == 1 and bad[0]["input"].endswith("broken.jpg") and "broken.jpg" in bad[0]["error"]
    assert all(set(r) >= {"input", "output", "status", "seconds", "worker", "error", "attempts"} for r in records)
    assert "failed " in err and "broken.jpg" in err and "painted 4 of 5 images" in err


def test_uris_give_the_same_bytes_as_paths(tmp_path):
    src = photos(tmp_path / "in", size=64)
    by_path = painterly.batch(str(src), str(tmp_path / "a"), model="wave", workers=1)
    by_uri = painterly.batch(f"file://{src}", f"file://{tmp_path / 'b'}", model="wave", workers=1)
    assert by_path.ok and by_uri.ok
    assert [i["output"] for i in by_uri.items] == [f"file://{tmp_path / 'b' / n}" for n in IMAGES]
    same_files(tmp_path / "a", tmp_path / "b", IMAGES)
    assert Path(by_uri.manifest) == tmp_path / "b" / "painterly-batch.jsonl"


def sigkill_first_holder(killed):
    """A progress callback that SIGKILLs the worker holding the first running image, once;
    the image goes into ``killed``."""

    def on_progress(event):
        if not killed and event.running:
            worker, image, _ = event.running[0]
            killed.append(image)
            os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)

    return on_progress


def test_a_killed_worker_loses_nothing(tmp_path):
    """SIGKILL the worker holding an image: the image goes to a fresh worker; with no retries left it fails alone."""
    src = photos(tmp_path / "in", size=192)
    reference = painterly.batch(str(src), str(tmp_path / "ref"), model="wave", workers=1)
    assert reference.ok
    for retries, out in ((2, tmp_path / "out"), (0, tmp_path / "out0")):
        killed = []
        kill_first_holder = sigkill_first_holder(killed)
        result = painterly.batch(str(src), str(out), model="wave", workers=2, retries=retries,
                                 on_progress=kill_first_holder)
        records = read_manifest(result.manifest)
        final = {r["input"]: r for r in records}
        if retries:
            assert result.ok and result.retried == 1
            assert [r["status"] for r in records].count("retried") == 1
            assert final[killed[0]]["status"] == "done" and final[killed[0]]["attempts"] == 2
            same_files(tmp_path / "ref", out, IMAGES)
        else:
            assert result.count("failed") == 1 and result.count("done") == 3
            assert final[killed[0]]["status"] == "failed"
            assert "SIGKILL" in final[killed[0]]["error"] and "gave up after 1 attempt" in final[killed[0]]["error"]


def test_cancelled_batch_resumes_without_redoing_finished_images(capsys, tmp_path):
    src = photos(tmp_path / "in", size=96)
    for extra in ("b", "c"):
        _photo("astronaut.jpg", src / f"more_{extra}.png", 96)
    out = tmp_path / "out"
    stop = threading.Event()

    def cancel_after_first(event):
        if event.done >= 1:
            stop.set()

    first = painterly.batch(str(src), str(out), model="wave", workers=1, on_progress=cancel_after_first, cancel=stop)
    assert first.cancelled and 1 <= first.count("done") < 6 and first.count("pending") >= 1
    done_before = {Path(i["output"]).name: (out / Path(i["output"]).name).stat().st_mtime_ns
                   for i in first.items if i["status"] == "done"}
    code, stdout, _ = run(capsys, "batch", src, "-o", out, "--model", "wave", "--resume", "--json", "-q")
    assert code == 0
    report = json.loads(stdout)
    assert report["counts"]["skipped"] == len(done_before)
    assert report["counts"]["done"] == 6 - len(done_before)
    assert {name: (out / name).stat().st_mtime_ns for name in done_before} == done_before
    records = read_manifest(out / "painterly-batch.jsonl")
    assert sorted(r["input"] for r in records if r["status"] == "done") == sorted(str(p) for p in src.iterdir())


def test_transfer_batch_matches_painterly_transfer(capsys, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _photo("chelsea.jpg", src / "cat.png", 40)
    _photo("astronaut.jpg", src / "astronaut.png", 40)
    style = _photo("starry_night.jpg", tmp_path / "starry.png", 48)
    settings = ["--size", "32", "--iterations", "6", "--no-multiscale", "--style-size", "32", "--threads", "1"]
    import torch

    threads = torch.get_num_threads()
    try:
        code, _, _ = run(capsys, "transfer", src / "cat.png", style, "-o", tmp_path / "cat_ref.png", "-q", *settings)
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    code, out, _ = run(capsys, "batch", src, "-o", tmp_path / "out", "--transfer", style, "--json", "-q",
                         "--workers", "1", *settings)
    assert code == 0
    report = json.loads(out)
    assert report["counts"]["done"] == 2 and all(i["iterations"] == 6 for i in report["items"])
    assert (tmp_path / "out" / "cat.png").read_bytes() == (tmp_path / "cat_ref.png").read_bytes()
    assert Image.open(tmp_path / "out" / "astronaut.png").size[0] == 32


def test_the_pool_works_without_ray(tmp_path):
    """Ray made unimportable in the driver and its spawned workers (a sitecustomize)."""
    src = photos(tmp_path / "in", size=48)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['ray'] = None\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT / "src")]), OMP_NUM_THREADS="1")
    code = ("import sys\nfrom painterly.cli.main import main\n"
            "try:\n    import ray\nexcept ImportError:\n    pass\nelse:\n    sys.exit('ray importable')\n"
            "sys.exit(main(sys.argv[1:]))\n")
    ok = subprocess.run([sys.executable, "-c", code, "batch", str(src), "-o", str(tmp_path / "out"), "--model",
                         "wave", "--workers", "2", "-q"], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.*") if p.suffix != ".jsonl") == IMAGES
    no_ray = subprocess.run([sys.executable, "-c", code, "batch", str(src), "-o", str(tmp_path / "out2"),
                             "--model", "wave", "--ray"], env=env, capture_output=True, text=True, timeout=120)
    assert no_ray.returncode == 1
    assert "pip install 'painterly[cluster]'" in no_ray.stderr and no_ray.stderr.count("\n") == 1


def test_ctrl_c_stops_the_pool_with_the_manifest_intact(tmp_path):
    """Ctrl-C to the whole process group (as a terminal sends it) mid-optimization: exit 130,
    the running images keep their best result so far, every manifest line is whole."""
    src = tmp_path / "in"
    src.mkdir()
    _photo("chelsea.jpg", src / "cat.png", 40)
    _photo("astronaut.jpg", src / "astronaut.png", 40)
    style = _photo("starry_night.jpg", tmp_path / "starry.png", 40)
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "painterly", "batch", str(src), "-o", str(out), "--transfer", str(style),
         "--size", "32", "--style-size", "32", "--no-multiscale", "--iterations", "100000", "--tolerance", "0",
         "--optimizer", "adam", "--workers", "2", "--threads", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_children(proc.pid)) < 2:
            time.sleep(0.2)
        time.sleep(6)  # the workers load VGG and start painting
        assert proc.poll() is None
        workers = _children(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "--resume" in stderr
    lines = (out / "painterly-batch.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    assert {r["status"] for r in records} <= {"cancelled", "done"}
    for record in records:
        if record["output"]:
            assert max(Image.open(record["output"]).size) == 32  # the best image so far, whole
    assert workers and not any(Path(f"/proc/{pid}").exists() for pid in workers)


def _children(pid: int) -> list:
    """The spawned pool workers of ``pid`` (not multiprocessing's resource tracker)."""
    try:
        pids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    workers = []
    for child in pids:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(child)
        except OSError:
            pass
    return workers


# -- small pieces ---------------------------------------------------------------------


def test_manifest_skips_a_torn_last_line_and_continues_after_it(tmp_path):
    path = tmp_path / "m.jsonl"
    with Manifest(path) as manifest:
        manifest.write({"input": "a", "status": "done"})
    with open(path, "a") as handle:
        handle.write('{"input": "b", "sta')  # a crash mid-write
    with Manifest(path) as manifest:
        with pytest.raises(UsageError, match="another painterly batch"):
            Manifest(path)
        manifest.write({"input": "c", "status": "failed"})
    assert [r["input"] for r in read_manifest(path)] == ["a", "c"]


def test_resources_and_usage_errors(capsys, tmp_path):
    assert parse_resources('{"GPU": 1, "ssd": 2}') == {"num_gpus": 1, "resources": {"ssd": 2.0}}
    assert parse_resources({"num_cpus": 4, "memory": 1e9}) == {"num_cpus": 4, "memory": 1e9}
    with pytest.raises(UsageError, match="JSON object"):
        parse_resources("gpu=1")
    with pytest.raises(UsageError, match="must be a number"):
        parse_resources('{"num_gpus": "one"}')
    src = photos(tmp_path / "in", size=32)
    for args, message in (
        ([src, "-o", tmp_path / "o"], "give --model"),
        ([src, "-o", tmp_path / "o", "--transfer", src / "cat.png", "--model", "wave"], "cannot be combined"),
        (["--ray", src, "-o", tmp_path / "o", "--model", "wave"], "put --ray after the inputs"),
        ([src, "-o", tmp_path / "o", "--model", "wave", "--resources", '{"num_gpus": 1}'], "add --ray"),
        ([src, "-o", tmp_path / "o", "--model", "wave", "--quality", "0"], "quality"),
    ):
        code, _, err = run(capsys, "batch", *args)
        assert code == 2 and message in err and err.count("\n") == 1, err
    code, _, err = run(capsys, "batch", src, "-o", tmp_path / "o", "--model", "no_such_model", "--workers", "1")
    assert code in (1, 2) and err.splitlines()[-1].startswith("painterly: error: unknown model 'no_such_model'")


def test_pool_shape_fills_the_cores():
    from painterly.batch.pool import pool_shape

    assert pool_shape(24, cores=2) == (2, 1)
    assert pool_shape(24, cores=16) == (8, 2)  # at most 8 models in memory by default
    assert pool_shape(1, cores=16) == (1, 16)  # one image: all threads on it
    assert pool_shape(24, threads=4, cores=16) == (4, 4)
    assert pool_shape(24, workers=3, cores=2) == (3, 1)
