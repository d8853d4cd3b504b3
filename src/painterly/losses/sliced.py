"""Sliced Wasserstein feature loss: the style as a distribution, not two moments.

Mean and standard deviation per channel (:mod:`painterly.losses.moments`)
say nothing of how channels vary together or of the shape of each channel's
histogram, and a decoder trained on them alone paints with the right
average colours but the wrong texture. The sliced Wasserstein-2 distance
(Heitz et al. 2021) projects both feature sets on random unit directions
of the channel space, sorts each projection and compares the sorted values:
zero only when every 1-D marginal along the sampled directions matches, so
it covers the channel covariance (the Gram matrix) and beyond.

Directions are drawn fresh for every call from the caller's generator:
fixed directions would let a network match a few projections and nothing
else. Like every loss here it is divided by the target's energy (the
variance of its projections) so one weight works at every layer.
"""

from __future__ import annotations

from typing import Optional

import torch


def random_directions(channels: int, count: int, *, generator: Optional[torch.Generator] = None,
                      device: Optional[torch.device] = None) -> torch.Tensor:
    """``count`` random unit vectors of ``R^channels`` (uniform on the sphere), C x K float32 on ``device``.

    Drawn on the CPU (``generator`` a CPU generator) so a seed gives the same
    directions on every device.
    """
    d = torch.randn(channels, count, generator=generator)
    return (d / d.norm(dim=0, keepdim=True).clamp_min(1e-12)).to(device)


def _resample_sorted(values: torch.Tensor, n: int) -> torch.Tensor:
    """Sorted values B x K x M at ``n`` evenly spaced quantiles (linear interpolation), B x K x n."""
    m = values.shape[-1]
    if m == n:
        return values
    pos = (torch.arange(n, device=values.device, dtype=values.dtype) + 0.5) * (m / n) - 0.5
    lo = pos.floor().clamp(0, m - 1).long()
    hi = (lo + 1).clamp(max=m - 1)
    t = (pos - lo.to(values.dtype)).clamp(0, 1)
    return values[..., lo] * (1 - t) + values[..., hi] * t


def sliced_wasserstein_loss(features: torch.Tensor, target: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Relative sliced Wasserstein-2 distance between two feature maps' position sets.

    Args:
        features: B x C x H x W of the image being trained or optimized (any memory layout).
        target: B x C x H' x W' or 1 x C x H' x W' of the style, no gradient needed; the
            number of positions may differ (its sorted projections are resampled).
        directions: C x K unit directions (:func:`random_directions`).

    Returns:
        Scalar float32: the squared differences of the sorted projections, summed
        over batch, directions and positions (after resampling to the features'
        count), over the target projections' summed squared deviation from their
        means (the same sums). 0 when every projected distribution matches.
    """
    b, c = features.shape[:2]
    d = directions.to(device=features.device, dtype=torch.float32)
    # B x N x C @ C x K: the positions' projections, then sorted along the positions.
    proj = torch.matmul(features.float().flatten(2).transpose(1, 2), d).transpose(1, 2).sort(dim=-1).values
    with torch.no_grad():
        tproj = torch.matmul(target.float().flatten(2).transpose(1, 2), d).transpose(1, 2).sort(dim=-1).values
        tproj = _resample_sorted(tproj, proj.shape[-1])
        if tproj.shape[0] == 1 and b > 1:
            tproj = tproj.expand(b, -1, -1)
        energy = (tproj - tproj.mean(dim=-1, keepdim=True)).pow(2).sum()
    return (proj - tproj).pow(2).sum() / energy.clamp_min(1e-12)


__all__ = ["random_directions", "sliced_wasserstein_loss"]
