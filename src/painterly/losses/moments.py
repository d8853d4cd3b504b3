"""Style loss on per-channel means and standard deviations (Huang & Belongie 2017, eq. 11).

The AdaIN paper's style loss matches, at each layer, the channel means and
standard deviations of the output's features to the style's:
``||mu(f(x)) - mu(f(s))||^2 + ||sigma(f(x)) - sigma(f(s))||^2``.
Here, as every loss in :mod:`painterly.losses`, it is divided by the
target's energy ``||mu(f(s))||^2 + ||sigma(f(s))||^2`` so that one weight
works at every layer: the paper's "normalised" VGG19 scales each channel to
mean activation 1, which painterly's Caffe VGG19 does not, and dividing by
the target's energy gives each layer the size it has on the normalised
network up to a factor of order one (the minimizer is the paper's).
"""

from __future__ import annotations

from typing import Tuple

import torch


def mean_std(features: torch.Tensor, eps: float = 1e-5) -> Tuple[torch.Tensor, torch.Tensor]:
    """Channel means and standard deviations ``sqrt(var + eps)`` (population variance).

    Args:
        features: B x C x H x W.

    Returns:
        ``(mean, std)``, each B x C.
    """
    b, c = features.shape[:2]
    f = features.reshape(b, c, -1)
    mean = f.mean(dim=2)
    var = (f - mean.unsqueeze(2)).pow(2).mean(dim=2)
    return mean, (var + eps).sqrt()


def mean_std_loss(features: torch.Tensor, target: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Relative error of channel means and standard deviations (see the module docstring).

    Args:
        features: B x C x H x W of the image being trained or optimized.
        target: B x C x H' x W' (or 1 x C x H' x W') of the style (no gradient
            needed); its spatial size may differ.

    Returns:
        Scalar: ``(sum |mu_x - mu_s|^2 + |sigma_x - sigma_s|^2) / (sum mu_s^2 + sigma_s^2)``,
        sums over batch and channels. 0 when the statistics match.
    """
    fm, fs = mean_std(features, eps)
    tm, ts = mean_std(target, eps)
    if tm.shape[0] == 1 and fm.shape[0] > 1:
        tm, ts = tm.expand_as(fm), ts.expand_as(fs)
    num = (fm - tm).pow(2).sum() + (fs - ts).pow(2).sum()
    den = tm.pow(2).sum() + ts.pow(2).sum()
    return num / den.clamp_min(1e-12)


__all__ = ["mean_std", "mean_std_loss"]
