"""Second-order statistics of feature maps, optionally weighted by a spatial mask."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Optional, Tuple

import torch


@dataclass(frozen=True)
class FeatureStats:
    """Statistics of one layer's features over (masked) positions.

    Attributes:
        gram: B x C x C, F F^T / (C * N) with N the (mask-weighted) number of positions.
        mean: B x C, the channel means.
        count: N, the (mask-weighted) number of positions.
    """

    gram: torch.Tensor
    mean: torch.Tensor
    count: float

    # Cached: a style target's statistics are reused by every iteration, and
    # recomputing them was a third of the loss's small operations.
    @cached_property
    def cov(self) -> torch.Tensor:
        """B x C x C covariance, derived from the Gram matrix without another pass over F."""
        c = self.gram.shape[-1]
        return self.gram * c - self.mean.unsqueeze(-1) * self.mean.unsqueeze(-2)

    @cached_property
    def gram_energy(self) -> torch.Tensor:
        """||G||_F^2, at least 1e-12 (the normalizer of the Gram loss)."""
        return self.gram.square().sum().clamp_min(1e-12)

    @cached_property
    def cov_energy(self) -> torch.Tensor:
        """||cov||_F^2, at least 1e-12."""
        return self.cov.square().sum().clamp_min(1e-12)

    @cached_property
    def cov_trace(self) -> torch.Tensor:
        """tr(cov) summed over the batch, at least 1e-12."""
        return torch.diagonal(self.cov, dim1=-2, dim2=-1).sum().clamp_min(1e-12)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix G = F F^T / (C H W).

    Args:
        features: B x C x H x W.

    Returns:
        B x C x C. Dividing by C H W (not just H W) keeps values comparable across
        layers and image sizes.
    """
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def _positions_by_channels(features: torch.Tensor) -> Tuple[torch.Tensor, bool]:
    """``features`` (B x C x H x W) as a matrix without copying: (B x C x N, False)
    for contiguous memory, (B x N x C, True) for channels-last."""
    b, c, h, w = features.shape
    if c > 1 and not features.is_contiguous() and features.is_contiguous(memory_format=torch.channels_last):
        return features.permute(0, 2, 3, 1).reshape(b, h * w, c), True
    return features.reshape(b, c, h * w), False


class _OuterAndMean(torch.autograd.Function):
    """F F^T and the channel sums' mean over positions, with a fused backward pass.

    Left to autograd, the two factors of F F^T are two inputs (two products, a
    sum of the two, a cast of the float32 gradient), and the mean's gradient is
    a full-size expanded, divided copy added to it: at 512 px those passes over
    relu1_1 and relu2_1 cost more than the products. Here
    ``grad_F = (grad_G + grad_G^T) F + grad_mean / N``: one product on the
    C x C matrix's symmetric part in the features' dtype, into which the mean's
    gradient is broadcast (``baddbmm``).
    """

    @staticmethod
    def forward(ctx, f: torch.Tensor, transposed: bool, with_mean: bool):  # type: ignore[override]
        stat_dtype = torch.promote_types(f.dtype, torch.float32)
        g = torch.bmm(f.transpose(1, 2), f) if transposed else torch.bmm(f, f.transpose(1, 2))
        # Without the mean (a masked Gram), a zero stands in and gets a zero gradient.
        if with_mean and f.dtype == torch.bfloat16:
            # A product with ones: oneDNN sums in float32 and rounds the C sums once (like the
            # Gram); a float32-accumulating mean over bfloat16 positions is many times slower.
            n = f.shape[1] if transposed else f.shape[2]
            ones = f.new_ones(f.shape[0], 1, n) if transposed else f.new_ones(f.shape[0], n, 1)
            sums = torch.bmm(ones, f).squeeze(1) if transposed else torch.bmm(f, ones).squeeze(2)
            mean = sums.to(stat_dtype) / n
        elif with_mean:
            mean = f.mean(dim=1 if transposed else 2, dtype=stat_dtype)
        else:
            mean = f.new_zeros(f.shape[0], 1, dtype=stat_dtype)
        ctx.save_for_backward(f)
        ctx.transposed = transposed
        return g.to(stat_dtype), mean

    @staticmethod
    def backward(ctx, grad_g: torch.Tensor, grad_mean: torch.Tensor):  # type: ignore[override]
        (f,) = ctx.saved_tensors
        sym = (grad_g + grad_g.transpose(1, 2)).to(f.dtype)
        if ctx.transposed:  # f: B x N x C
            return torch.baddbmm((grad_mean / f.shape[1]).to(f.dtype).unsqueeze(1), f, sym), None, None
        return torch.baddbmm((grad_mean / f.shape[2]).to(f.dtype).unsqueeze(2), sym, f), None, None


def _outer(f: torch.Tensor, transposed: bool) -> torch.Tensor:
    """F F^T over positions (B x C x C), at least in float32 (a bfloat16 product is
    rounded once at the end). ``f``: B x C x N, or B x N x C when ``transposed``."""
    if torch.is_grad_enabled() and f.requires_grad:
        return _OuterAndMean.apply(f, transposed, False)[0]
    g = torch.bmm(f.transpose(1, 2), f) if transposed else torch.bmm(f, f.transpose(1, 2))
    return g.to(torch.promote_types(g.dtype, torch.float32))


def feature_stats(features: torch.Tensor, mask: Optional[torch.Tensor] = None) -> FeatureStats:
    """Gram matrix and channel means of ``features`` (B x C x H x W).

    Features in bfloat16 keep their product in bfloat16 (4x faster than casting
    first: oneDNN accumulates in float32 and rounds the C x C result); the
    statistics come back in float32 either way.

    Args:
        features: B x C x H x W activations, contiguous or channels-last.
        mask: optional B x 1 x H x W (or 1 x 1 x H x W) weights in [0, 1] at the
            features' resolution; statistics are taken over the weighted positions.
    """
    b, c, h, w = features.shape
    f, transposed = _positions_by_channels(features)
    pos = 1 if transposed else 2  # the positions' dimension of f
    stat_dtype = torch.promote_types(f.dtype, torch.float32)
    if mask is None:
        n = float(h * w)
        if torch.is_grad_enabled() and f.requires_grad:
            outer, mean = _OuterAndMean.apply(f, transposed, True)
        else:
            outer, mean = _outer(f, transposed), f.mean(dim=pos, dtype=stat_dtype)
        gram = outer / (c * n)
    else:
        m = mask.reshape(mask.shape[0], h * w, 1) if transposed else mask.reshape(mask.shape[0], 1, h * w)
        m = m.expand(b, *m.shape[1:])
        n = float(m.sum().clamp_min(1e-8) / b)  # before the cast: a bfloat16 sum of weights drifts
        m = m.to(f.dtype)
        mean = (f * m).sum(dim=pos, dtype=stat_dtype) / n
        # sqrt weights on both sides so a soft mask weights each position once.
        gram = _outer(f * m.sqrt(), transposed) / (c * n)
    return FeatureStats(gram=gram, mean=mean, count=n)


def blend_stats(stats: list[FeatureStats], weights: list[float]) -> FeatureStats:
    """Weighted average of statistics (blending several styles into one target)."""
    total = sum(weights)
    if total <= 0:
        raise ValueError("blend weights must sum to a positive number")
    ws = [w / total for w in weights]
    gram = sum(w * s.gram for w, s in zip(ws, stats))
    mean = sum(w * s.mean for w, s in zip(ws, stats))
    count = sum(w * s.count for w, s in zip(ws, stats))
    return FeatureStats(gram=gram, mean=mean, count=count)  # type: ignore[arg-type]
