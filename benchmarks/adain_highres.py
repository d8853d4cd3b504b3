"""AdaIN on photos larger than the working size: guided upsampling vs tiles, measured.

::

    python benchmarks/adain_highres.py --model adain            # a trained decoder
    python benchmarks/adain_highres.py                          # untrained (timings only mean much)

On one photo (default ``shared/images/content/tubingen.jpg``, 1024 x 768) and one
style (``starry_night.jpg``), with the working size ``--work-size`` (512):

* ``work + bicubic``: AdaIN at the working size, bicubic upsampling;
* ``work + guided``: AdaIN at the working size, guided upsampling from the
  full-resolution photo (painterly's default, ``painterly.imaging.guided``,
  mode ``detail``: the upsampled result plus the photo's fine detail through
  the local colour gain);
* ``work + guided filter``: the same coefficients used as He & Sun's fast
  guided filter (mode ``filter``: the output is a local affine function of
  the photo, which also smooths away strokes the photo does not have);
* ``full, tiles``: AdaIN at full resolution in ``--tile`` px tiles (overlap 64,
  cosine feathering, ``painterly.fast.tiling``), every tile normalized with
  the whole image's content statistics (so no tile gets its own colours);
* ``full, one pass``: AdaIN at full resolution in one pass (the reference the
  tiles approximate).

Columns: seconds (network and upsampling; model loading and style encoding
excluded; best of ``--repeat``), sharpness (mean luminance gradient magnitude
at full resolution, 0..255 per px; the photo's own is printed too) and
``vs work`` (mean absolute difference, 0..255, between the output shrunk back to
the working size and the working-size result: how much the picture changed).
Also the time of guided upsampling alone to a 6000 x 4000 (24 MP) output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))


def sharpness(pixels: np.ndarray) -> float:
    """Mean gradient magnitude of the luminance (0..255 units per px)."""
    y = pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gx = np.diff(y, axis=1)[:-1, :]
    gy = np.diff(y, axis=0)[:, :-1]
    return float(np.sqrt(gx * gx + gy * gy).mean())


def shrink(pixels: np.ndarray, size_hw) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(pixels).resize((size_hw[1], size_hw[0]), Image.Resampling.BICUBIC))


def best_of(fn: Callable[[], np.ndarray], repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv: Optional[Sequence[str]] = None) -> int:
    from fast_vs_styletransfer_lite import shared_dir

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="", help="AdaIN model name or file, .onnx or .safetensors (default: a randomly "
                   "initialised decoder, run with torch)")
    p.add_argument("--photo", type=Path, default=None, help="photo (default shared/images/content/tubingen.jpg)")
    p.add_argument("--style", type=Path, default=None, help="style (default shared/images/style/starry_night.jpg)")
    p.add_argument("--work-size", type=int, default=512)
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--save", type=Path, default=BENCH_DIR / ".cache" / "adain_highres", help="folder for the outputs")
    args = p.parse_args(argv)

    from painterly.arbitrary.runtime import STRIDE, channel_stats, pad_to_stride
    from painterly.arbitrary.stylize import ArbitraryStylizer, stylize_array, work_shape
    from painterly.config import StylizeConfig
    from painterly.fast.tiling import stylize_tiled
    from painterly.imaging.guided import guided_upsample
    from painterly.imaging.io import load_array

    photo_path = args.photo or shared_dir() / "images" / "content" / "tubingen.jpg"
    style_path = args.style or shared_dir() / "images" / "style" / "starry_night.jpg"
    cfg = StylizeConfig(style_images=(str(style_path),), work_size=args.work_size, model=args.model)
    if args.model:
        stylizer = ArbitraryStylizer(cfg)
        trained = True
    else:
        import torch

        from painterly.models.adain import AdaINModel, Decoder

        torch.manual_seed(0)
        stylizer = ArbitraryStylizer(cfg, model=AdaINModel(Decoder()))
        trained = False
    runtime = stylizer.runtime
    photo = load_array(photo_path)
    height, width = photo.shape[:2]
    h, w = work_shape(height, width, args.work_size)
    s_mean, s_std = stylizer.style_stats()[0]

    results: Dict[str, tuple] = {}
    results["work + bicubic"] = best_of(lambda: stylize_array(photo, stylizer, cfg, upsample="bicubic"), args.repeat)
    results["work + guided"] = best_of(lambda: stylize_array(photo, stylizer, cfg, upsample="guided"), args.repeat)

    def guided_filter() -> np.ndarray:  # He & Sun's fast guided filter: up(A) I + up(b)
        small = shrink(photo, (h, w))
        return guided_upsample(stylizer.run(small, cfg), small.astype(np.float32) / 255, photo, mode="filter")

    results["work + guided filter"] = best_of(guided_filter, args.repeat)

    def tiled() -> np.ndarray:
        # Shared content statistics from the whole photo shrunk to one tile's pixel count
        # (as the feed-forward tiling does): no tile gets colours of its own.
        scale = min(1.0, (args.tile * args.tile / (height * width)) ** 0.5)
        small = shrink(photo, (max(16, round(height * scale)), max(16, round(width * scale))))
        c_mean, c_std = channel_stats(runtime.encode(pad_to_stride(small.transpose(2, 0, 1)[None] / np.float32(255))))

        def fn(batch: np.ndarray) -> np.ndarray:
            th, tw = batch.shape[-2:]
            feat = runtime.encode(pad_to_stride(batch))
            out = runtime.decode((feat - c_mean) / c_std * s_std + s_mean)
            return np.clip(out[..., :th, :tw], 0, 1)

        return stylize_tiled(photo, fn, args.tile, 64, align=STRIDE)

    results[f"full, {args.tile} px tiles"] = best_of(tiled, args.repeat)
    results["full, one pass"] = best_of(
        lambda: stylize_array(photo, stylizer, cfg.replace(work_size=0)), args.repeat
    )

    reference = results["full, one pass"][1].astype(np.float32)
    small = shrink(photo, (h, w))
    low = stylizer.run(small, cfg)
    low_u8 = np.rint(low * 255).astype(np.uint8)
    print(f"photo {photo_path.name} {width}x{height}, style {style_path.name}, work {w}x{h}, "
          f"{'trained' if trained else 'UNTRAINED (random)'} decoder, {stylizer.backend} backend")
    print(f"photo sharpness {sharpness(photo):.2f}; working-size result sharpness (at {w}x{h}) {sharpness(low_u8):.2f}")
    print(f"{'method':<22} {'seconds':>8} {'sharpness':>10} {'vs work':>8} {'vs full':>8}")
    args.save.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    for name, (seconds, out) in results.items():
        vs_work = np.abs(shrink(out, (h, w)).astype(np.float32) - low_u8).mean()
        vs_full = np.abs(out.astype(np.float32) - reference).mean()
        print(f"{name:<22} {seconds:8.2f} {sharpness(out):10.2f} {vs_work:8.2f} {vs_full:8.2f}")
        Image.fromarray(out).save(args.save / (name.replace(" ", "_").replace(",", "").replace("+", "") + ".png"))

    big = np.asarray(Image.fromarray(photo).resize((6000, 4000), Image.Resampling.BICUBIC))
    big_h, big_w = work_shape(4000, 6000, args.work_size)
    guide_low = shrink(big, (big_h, big_w)).astype(np.float32) / 255
    fake = np.clip(guide_low[..., ::-1] * 0.8 + 0.1, 0, 1).astype(np.float32)
    seconds, _ = best_of(lambda: guided_upsample(fake, guide_low, big), 1)
    print(f"guided upsampling alone, {big_w}x{big_h} -> 6000x4000: {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
