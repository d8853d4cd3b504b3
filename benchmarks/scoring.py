"""One scorer for every style-transfer benchmark: content, Gram style and sliced Wasserstein.

All three are computed on the ImageNet VGG19 (max pooling) that painterly ships
with, on images loaded and resized the same way for every contender:

- content: ||F(out) - F(content)||^2 / ||F(content)||^2 at relu4_2;
- style:   mean over relu1_1..relu5_1 of ||G(out) - G(style)||^2 / ||G(style)||^2, G = F F^T / (C H W);
- swd:     mean over relu1_1..relu4_1 of the sliced Wasserstein-2 distance between the output's
           and the style's features along 64 fixed random directions, divided by the style
           features' variance along the same directions.

The style image is scored at 512 px long side; content and output at the run's size.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, Sequence

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from painterly.models.vgg import shared_vgg19  # noqa: E402

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
SWD_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
CONTENT_LAYER = "relu4_2"
STYLE_SCORE_SIZE = 512
N_DIRECTIONS = 64


def load_rgb(path: str | Path, long_side: int | None = None) -> torch.Tensor:
    """Read an image as 1 x 3 x H x W RGB in [0, 1], resized (Lanczos) to ``long_side``."""
    img = Image.open(path).convert("RGB")
    if long_side is not None and max(img.size) != long_side:
        w, h = img.size
        s = long_side / max(w, h)
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return t.view(img.size[1], img.size[0], 3).permute(2, 0, 1)[None].float() / 255


def gram(f: torch.Tensor) -> torch.Tensor:
    _, c, h, w = f.shape
    x = f.reshape(c, h * w)
    return x @ x.T / (c * h * w)


def _directions(c: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1234 + c)
    d = torch.randn(c, N_DIRECTIONS, generator=g)
    return d / d.norm(dim=0, keepdim=True)


def sliced_w2(f_out: torch.Tensor, f_style: torch.Tensor) -> float:
    """Sliced W2^2 between two feature sets (1 x C x h x w), over the style's projected variance."""
    c = f_out.shape[1]
    d = _directions(c)
    a = (f_out.reshape(c, -1).T @ d).sort(dim=0).values
    b = (f_style.reshape(c, -1).T @ d).sort(dim=0).values
    n = max(a.shape[0], b.shape[0])
    q = (torch.arange(n, dtype=torch.float32) + 0.5) / n

    def quantiles(x: torch.Tensor) -> torch.Tensor:
        pos = q * x.shape[0] - 0.5
        lo = pos.floor().clamp(0, x.shape[0] - 1).long()
        hi = (lo + 1).clamp(max=x.shape[0] - 1)
        t = (pos - lo.float()).clamp(0, 1)[:, None]
        return x[lo] * (1 - t) + x[hi] * t

    w2 = ((quantiles(a) - quantiles(b)) ** 2).mean()
    return float(w2 / b.var(dim=0).mean().clamp_min(1e-12))


@torch.no_grad()
def style_features(style_path: str | Path) -> Dict[str, torch.Tensor]:
    vgg = shared_vgg19("max")
    return vgg(load_rgb(style_path, STYLE_SCORE_SIZE), STYLE_LAYERS)


@torch.no_grad()
def score(output_path: str | Path, content_path: str | Path, style_path: str | Path) -> Dict[str, float]:
    """Score one output: {'content', 'style', 'swd'} (lower is better)."""
    vgg = shared_vgg19("max")
    out = load_rgb(output_path)
    size = max(out.shape[-2:])
    content = load_rgb(content_path, size)
    if content.shape[-2:] != out.shape[-2:]:
        out = torch.nn.functional.interpolate(out, size=content.shape[-2:], mode="bicubic").clamp(0, 1)
    layers = STYLE_LAYERS + (CONTENT_LAYER,)
    fo = {k: v.clone() for k, v in vgg(out, layers).items()}
    fc = vgg(content, (CONTENT_LAYER,))[CONTENT_LAYER]
    fs = style_features(style_path)
    content_err = float(((fo[CONTENT_LAYER] - fc) ** 2).sum() / (fc**2).sum())
    style_err = sum(
        float(((gram(fo[k]) - gram(fs[k])) ** 2).sum() / (gram(fs[k]) ** 2).sum()) for k in STYLE_LAYERS
    ) / len(STYLE_LAYERS)
    swd = sum(sliced_w2(fo[k], fs[k]) for k in SWD_LAYERS) / len(SWD_LAYERS)
    return {"content": content_err, "style": style_err, "swd": swd}


# -- the grid check (issue 17) ---------------------------------------------------------

#: The AdaIN decoder's upsampling periods in its own pixels: three nearest-neighbour
#: 2x upsamplings, so a texture it fails to smooth repeats every 2, 4 or 8 px.
GRID_PERIODS = (2, 4, 8)
#: Half side in frequency bins of the square taken as a lattice point's peak, and the
#: inner and outer half sides of the ring around it taken as its background.
_PEAK, _RING_IN, _RING_OUT = 1, 3, 6


def _luma(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 3:
        a = a[..., :3] @ np.array([0.299, 0.587, 0.114])
    return a / (255.0 if np.asarray(image).dtype == np.uint8 else 1.0)


def _lattice_peakiness(image: np.ndarray, periods: Sequence[float]) -> float:
    """Sum over the lattice points of the periods of the peak power, over the sum of their ring backgrounds."""
    g = _luma(image)
    h, w = g.shape
    g = (g - g.mean()) * np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fftshift(np.fft.fft2(g))) ** 2
    cy, cx = h // 2, w // 2
    points = set()
    for p in periods:
        # Frequencies j / p cycles per px, in bins: j * w / p along x, k * h / p along y.
        for j in range(-int(p // 2), int(p // 2) + 1):
            for k in range(-int(p // 2), int(p // 2) + 1):
                if j == 0 and k == 0:
                    continue
                points.add((round(cy + k * h / p), round(cx + j * w / p)))
    peak_sum = background_sum = 0.0
    for y, x in points:
        if not (0 <= y < h and 0 <= x < w):
            continue
        y0, y1, x0, x1 = y - _RING_OUT, y + _RING_OUT + 1, x - _RING_OUT, x + _RING_OUT + 1
        window = power[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
        if window.size == 0:
            continue
        yy, xx = np.mgrid[max(0, y0) : max(0, y0) + window.shape[0], max(0, x0) : max(0, x0) + window.shape[1]]
        dist = np.maximum(np.abs(yy - y), np.abs(xx - x))
        peak = window[dist <= _PEAK]
        ring = window[(dist >= _RING_IN) & (dist <= _RING_OUT)]
        if peak.size == 0 or ring.size == 0:
            continue
        peak_sum += float(peak.max())
        background_sum += float(np.median(ring))
    return peak_sum / max(background_sum, 1e-30)


def grid_energy(output: np.ndarray, photo: np.ndarray, scale: float = 1.0,
                periods: Sequence[float] = GRID_PERIODS) -> float:
    """How much more the output's spectrum peaks at the decoder's upsampling periods than the photo's does.

    For each lattice frequency ``(j / P, l / P)`` cycles per px of the periods
    ``P = p * scale`` (``scale``: output px per decoder px, e.g. 2 for a
    512 px working size shown at 1024), the power spectrum's peak (Hann
    window, luminance) is divided by the median of a ring of bins around it;
    the sums over all lattice points are compared with the photo's own.
    A periodic grid gives sharp peaks above their surroundings, brush
    strokes and photo detail spread their energy and do not; about 1 means
    no more grid than the photo has.

    Args:
        output: the picture, (H, W, 3) uint8 or float in [0, 1], or (H, W).
        photo: the content photo at the same size.
        scale: output pixels per decoder pixel.

    Returns:
        The ratio, >= 0.
    """
    if np.asarray(output).shape[:2] != np.asarray(photo).shape[:2]:
        raise ValueError(f"output {np.asarray(output).shape} and photo {np.asarray(photo).shape} differ in size")
    scaled = [p * scale for p in periods]
    return _lattice_peakiness(output, scaled) / max(_lattice_peakiness(photo, scaled), 1e-30)


def grid_energy_files(output_path: str | Path, content_path: str | Path, scale: float = 1.0) -> float:
    """:func:`grid_energy` of an output file against its content photo (resized to it, Lanczos)."""
    out = np.asarray(Image.open(output_path).convert("RGB"))
    with Image.open(content_path) as img:
        photo = np.asarray(img.convert("RGB").resize((out.shape[1], out.shape[0]), Image.LANCZOS))
    return grid_energy(out, photo, scale)


if __name__ == "__main__":
    print(score(*sys.argv[1:4]))
