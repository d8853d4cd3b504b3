"""Second-order statistics of feature maps, optionally weighted by a spatial mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

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

    @property
    def cov(self) -> torch.Tensor:
        """B x C x C covariance, derived from the Gram matrix without another pass over F."""
        c = self.gram.shape[-1]
        return self.gram * c - self.mean.unsqueeze(-1) * self.mean.unsqueeze(-2)


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


def feature_stats(features: torch.Tensor, mask: Optional[torch.Tensor] = None) -> FeatureStats:
    """Gram matrix and channel means of ``features`` (B x C x H x W).

    Args:
        features: B x C x H x W activations.
        mask: optional B x 1 x H x W (or 1 x 1 x H x W) weights in [0, 1] at the
            features' resolution; statistics are taken over the weighted positions.
    """
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    if mask is None:
        n = float(h * w)
        mean = f.mean(dim=2)
        gram = torch.bmm(f, f.transpose(1, 2)) / (c * n)
    else:
        m = mask.reshape(mask.shape[0], 1, h * w).expand(b, 1, h * w)
        n = float(m.sum().clamp_min(1e-8) / b)
        fm = f * m
        mean = fm.sum(dim=2) / n
        # sqrt weights on both sides so a soft mask weights each position once.
        fs = f * m.sqrt()
        gram = torch.bmm(fs, fs.transpose(1, 2)) / (c * n)
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
