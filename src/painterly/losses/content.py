"""Content loss (Gatys et al. 2015, eq. 1), normalized by the target's energy."""

from __future__ import annotations

import torch


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative squared error ||F - T||^2 / ||T||^2.

    Args:
        features: B x C x H x W activations of the image being optimized.
        target: same shape, activations of the content image (no gradient).

    Returns:
        Scalar. Dividing by ||T||^2 (the paper uses 1/2) makes the value
        independent of image size and layer, so one weight works everywhere.
    """
    return ((features - target) ** 2).sum() / (target**2).sum().clamp_min(1e-12)
