"""PNG writing: time and size of zlib strategies at level 1, on outputs and other images.

Every stylize, video frame export and web result that is a PNG goes through
``painterly.imaging.files.save_image`` / ``encode_image`` (their options:
``PNG_COMPRESS_LEVEL``, ``PNG_ZLIB_STRATEGY``). For each image this prints the
best-of-N encode time (ms) and size (kB) of zlib's default strategy, run-length
only (RLE) and Huffman only, all at level 1, and the shipped options. Exits
non-zero when the shipped options are slower than the default strategy or
write a larger file, summed over the images.

    python benchmarks/png_options.py [--repeat 5] [IMAGE ...]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zlib
from pathlib import Path
from typing import Dict, List

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from PIL import Image  # noqa: E402
from tables import print_table  # noqa: E402

from painterly.imaging.files import encode_image  # noqa: E402

#: Default images: a one-pass AdaIN output, a feed-forward output, a photo and a flat UI screenshot.
DEFAULT_IMAGES = (
    REPO / "docs" / "images" / "models" / "adain_wave.jpg",
    REPO / "docs" / "images" / "models" / "starry_night_astronaut.jpg",
    REPO / "src" / "painterly" / "data" / "astronaut.jpg",
    REPO / "docs" / "images" / "serve.png",
)
STRATEGIES = {"default": zlib.Z_DEFAULT_STRATEGY, "rle": zlib.Z_RLE, "huffman": zlib.Z_HUFFMAN_ONLY}


def _best_encode(encode, repeat: int) -> tuple:
    best, size = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        size = len(encode())
        best = min(best, time.perf_counter() - t0)
    return best * 1000.0, size / 1000.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="*", type=Path, default=list(DEFAULT_IMAGES))
    p.add_argument("--repeat", type=int, default=5, help="encodes per image and option (best time kept)")
    args = p.parse_args()
    rows: List[List[object]] = []
    totals: Dict[str, List[float]] = {k: [0.0, 0.0] for k in [*STRATEGIES, "shipped"]}
    for path in args.images:
        image = Image.open(path).convert("RGB")
        image.load()
        row: List[object] = [path.name, f"{image.width}x{image.height}"]
        encoders = {name: (lambda s=s: _png(image, s)) for name, s in STRATEGIES.items()}
        encoders["shipped"] = lambda: encode_image(image, ".png")
        for name, encode in encoders.items():
            ms, kb = _best_encode(encode, args.repeat)
            totals[name][0] += ms
            totals[name][1] += kb
            row += [f"{ms:.1f}", f"{kb:.0f}"]
        rows.append(row)
    rows.append(["total", ""] + [f"{v:.{0 if i % 2 else 1}f}" for t in totals.values() for i, v in enumerate(t)])
    header = ["image", "size"] + [f"{n} {u}" for n in totals for u in ("ms", "kB")]
    print("PNG encode at zlib level 1 (best of --repeat; lower is better)")
    print_table(header, rows)
    ok = totals["shipped"][0] <= totals["default"][0] and totals["shipped"][1] <= totals["default"][1]
    print(f"target: shipped options no slower and no larger than zlib's default strategy: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def _png(image: Image.Image, strategy: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1, compress_type=strategy)
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(main())
