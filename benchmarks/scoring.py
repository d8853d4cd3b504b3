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
from typing import Dict

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


if __name__ == "__main__":
    print(score(*sys.argv[1:4]))
