"""Total-variation smoothness loss."""

from __future__ import annotations

import torch


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels.

    Args:
        image: B x 3 x H x W, values 0..1.

    Returns:
        Scalar, independent of image size (a mean, not a sum).
    """
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return (dx**2).mean() + (dy**2).mean()
