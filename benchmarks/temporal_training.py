"""Does ``painterly train --temporal-weight`` make a network steadier on video on its own?

Run from anywhere, after the fine-tunes of docs/models.md ("Steadier on video")::

    python benchmarks/temporal_training.py
    python benchmarks/temporal_training.py --model bundled=starry_night \\
        --model control=.data/temporal/starry_night_t0.safetensors \\
        --model temporal=.data/temporal/starry_night_t300.safetensors

Every model paints every frame on its own (``painterly video CLIP -m MODEL
--size 640 --consistency none``: no flow, no blending), each command under
``nice -n 19`` with ``--threads`` OMP threads (default 1). Clips and measures
are those of ``benchmarks/video_consistency.py`` (its functions are reused):

* fox: ``../shared/video/fox.mp4`` from 2.0 s, 2 s, 640x640, 60 frames (the
  clip video_consistency.py reports; fast non-rigid motion);
* pan: the astronaut photo seen through a panning, zooming 640x360 window (48 frames);
* warping error (Lai et al. 2018, flow on the input frames, occlusions out),
  style and content error (benchmarks/scoring.py) on every 15th frame, detail
  (high-pass energy) relative to the control.

Models (``--model LABEL=NAME|PATH``, repeatable; default: the bundled
starry_night and every ``.data/temporal/starry_night_t*.safetensors``). The
one labelled ``control`` (default: the ``_t0`` fine-tune, the same recipe
and iterations with weight 0) is the reference: a model labelled
``temporal...`` meets the target when, on every clip, its warping error is
<= 0.9x the control's and its style error <= 1.1x the control's. Exit status
1 when no temporal model meets it (or a command failed).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import video_consistency as vc  # noqa: E402
from tables import print_table  # noqa: E402

TEMPORAL_DIR = REPO / ".data" / "temporal"
WARP_TARGET = 0.9
STYLE_LIMIT = 1.1


def default_models() -> List[Tuple[str, str]]:
    """bundled starry_night, then the fine-tunes in .data/temporal, weight 0 labelled control."""
    models = [("bundled", "starry_night")]
    found = []
    for path in TEMPORAL_DIR.glob("starry_night_t*.safetensors"):
        m = re.fullmatch(r"starry_night_t(\d+(?:\.\d+)?)", path.stem)
        if m:
            found.append((float(m.group(1)), path))
    for weight, path in sorted(found):
        models.append(("control" if weight == 0 else f"temporal {weight:g}", str(path)))
    return models


def model_weight(model: str) -> str:
    """The temporal weight a model was trained with, from its metadata ('-' if unknown)."""
    sys.path.insert(0, str(REPO / "src"))
    from painterly.models.checkpoints import find_model, read_model_info

    try:
        info = read_model_info(find_model(model, prefer=(".safetensors",)))
    except Exception:  # noqa: BLE001 - only a label
        return "-"
    train = info.meta.get("train", {})
    return f"{train.get('config', {}).get('temporal_weight', 0.0):g}"


def clip_path(name: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    if name == "fox":
        clip = cache / "fox_2s.mp4"
        if not clip.exists():
            vc.make_fox(clip, 2.0)
    elif name == "pan":
        clip = cache / "pan.mp4"
        if not clip.exists():
            vc.make_pan(clip)
    else:
        raise SystemExit(f"unknown clip {name}: fox or pan")
    return clip


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", default=[], metavar="LABEL=MODEL",
                   help="a model to compare (name or file); label 'control' is the reference, 'temporal...' the candidates")
    p.add_argument("--clips", default="fox,pan", help="comma-separated: fox, pan")
    p.add_argument("--cache", default=str(BENCH / ".cache" / "video"))
    p.add_argument("--threads", type=int, default=1, help="OMP threads of every command")
    p.add_argument("--results", default=str(BENCH / "results" / "temporal_training.txt"))
    args = p.parse_args(argv)

    models = [tuple(m.split("=", 1)) for m in args.model] if args.model else default_models()
    if any(len(m) != 2 for m in models):
        raise SystemExit("--model takes LABEL=MODEL")
    labels = [label for label, _ in models]
    if "control" not in labels or not any(label.startswith("temporal") for label in labels):
        raise SystemExit(f"need a 'control' and at least one 'temporal...' model, got {', '.join(labels)} "
                         f"(train them first: see docs/models.md)")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS=str(args.threads),
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    rows: List[List[str]] = []
    lines: List[str] = []
    failures: List[str] = []
    passed: Dict[str, bool] = {label: True for label in labels if label.startswith("temporal")}
    work = Path(tempfile.mkdtemp(prefix="painterly-temporal-bench-"))
    try:
        for name in [c.strip() for c in args.clips.split(",") if c.strip()]:
            if name == "fox" and not vc.FOX.exists():
                print(f"skipping fox: {vc.FOX} not found")
                continue
            clip = clip_path(name, Path(args.cache))
            inputs = vc.decode(clip)
            results: Dict[str, Dict[str, float]] = {}
            for label, model in models:
                out = work / f"{name}_{len(results)}.mp4"
                cmd = ["nice", "-n", "19", sys.executable, "-m", "painterly", "video", str(clip), "-o", str(out),
                       "-m", model, "--size", "640", "--consistency", "none", "-q"]
                try:
                    vc.timed(cmd, env)
                except RuntimeError as exc:
                    failures.append(str(exc))
                    for key in passed:
                        passed[key] = passed[key] and label != key
                    continue
                frames = vc.decode(out)
                res = vc.measure(inputs, frames, work, score_style=True)
                results[label] = res
                print(f"{name}: {label}: {res}", flush=True)
            base = results.get("control")
            for label, model in models:
                res = results.get(label)
                if res is None:
                    continue
                rows.append([
                    name, label, model_weight(model), res["frames"], f"{res['warp']:.5f}",
                    f"{res['warp'] / base['warp']:.3f}x" if base else "-",
                    f"{res['style']:.4f}", f"{res['style'] / base['style']:.3f}x" if base else "-",
                    f"{res['content']:.3f}", f"{res['detail'] / base['detail']:.3f}x" if base else "-",
                ])
            for label in passed:
                res = results.get(label)
                if res is None or base is None:
                    passed[label] = False
                    continue
                w, s = res["warp"] / base["warp"], res["style"] / base["style"]
                ok_w, ok_s = w <= WARP_TARGET, s <= STYLE_LIMIT
                lines.append(f"{name}: {label}: {'ok  ' if ok_w else 'MISS'} warping error <= {WARP_TARGET}x control: {w:.3f}x")
                lines.append(f"{name}: {label}: {'ok  ' if ok_s else 'MISS'} style error <= {STYLE_LIMIT}x control: {s:.3f}x")
                passed[label] = passed[label] and ok_w and ok_s
    finally:
        shutil.rmtree(work, ignore_errors=True)

    winners = [label for label, ok in passed.items() if ok]
    if not winners:
        failures.append("no temporal model lowers the warping error by >= 10% with style error <= 1.1x the control's")
    # No frames/s: the models share one architecture, so speed differs only by the machine's load.
    headers = ["clip", "model", "temporal w", "frames", "warp err", "vs control", "style", "vs control", "content",
               "detail"]
    title = f"per-frame painting (--consistency none), 640 px, {args.threads} thread(s), nice 19"

    def report() -> None:
        print_table(headers, rows, title=title)
        print("models: " + "; ".join(f"{label} = {model}" for label, model in models))
        for line in lines:
            print(line)
        if winners:
            print(f"meets the target: {', '.join(winners)}")
        for failure in failures:
            print(f"FAILED: {failure}")

    report()
    if args.results:
        import io
        from contextlib import redirect_stdout

        buf = io.StringIO()
        with redirect_stdout(buf):
            print(f"# python benchmarks/temporal_training.py {' '.join(argv or sys.argv[1:])}".rstrip())
            print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f}")
            report()
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(buf.getvalue())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
