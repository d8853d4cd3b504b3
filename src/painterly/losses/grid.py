"""Grid loss: a penalty on texture locked to a decoder's upsampling lattice.

A decoder that upsamples by 2 three times can paint a pattern that repeats
every 2, 4 or 8 of its output pixels, in step with its own lattice. The
style losses reward that pattern (it carries the high-frequency energy a
painting's features have), and the AdaIN decoder learns it whatever its
upsampling, nearest or bilinear. Averaging the picture's 8 x 8 tiles keeps
exactly that pattern (its power is the power at the lattice frequencies
``(j / 8, l / 8)`` cycles per px, periods 2 and 4 included) and averages
everything else towards zero: strokes and photo detail fall anywhere with
respect to the lattice. So the loss is the energy of the mean tile of the
high-passed luminance, as a fraction of the high-passed energy, times the
number of tiles: about 1 for a picture with no lattice-locked pattern (the
mean of ``n`` unrelated tiles keeps ``1 / n`` of their energy), more with a
grid. The content crop's value is subtracted, so ``0`` reads "no more grid
than the photo" (the gradient is the output's alone).

The benchmark's check (``grid_energy`` in ``benchmarks/scoring.py``) looks
for the same lattice in whole pictures' spectra; this form is exact and
cheap on the decoder's own aligned crops.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..imaging.color import luminance
#: Side in px of the box blur whose residual is the high-pass: wide enough to keep
#: the 8 px period (a 9 px box passes it at 1.1) and to remove ramps across a crop.
HIGHPASS_BOX = 9


def lattice_energy(images: torch.Tensor, period: int = 8) -> torch.Tensor:
    """Energy of the mean ``period`` x ``period`` tile relative to a picture's, times the number of tiles.

    Args:
        images: B x 3 x H x W RGB (any scale: the measure is a ratio); H and W
            multiples of ``period``, at least :data:`HIGHPASS_BOX`.
        period: the lattice period in px (8 covers the periods 2 and 4 too).

    Returns:
        B float32 values, about 1 without a lattice-locked pattern. Differentiable.
    """
    b, c, h, w = images.shape
    if c != 3 or h % period or w % period or min(h, w) < HIGHPASS_BOX:
        raise ValueError(
            f"lattice_energy needs B x 3 x H x W, H and W multiples of {period} and >= {HIGHPASS_BOX}, "
            f"not {tuple(images.shape)}"
        )
    luma = luminance(images.float())  # the benchmark's check uses the same BT.601 weights
    pad = HIGHPASS_BOX // 2
    high = luma - F.avg_pool2d(F.pad(luma, (pad, pad, pad, pad), mode="reflect"), HIGHPASS_BOX, stride=1)
    tiles = high.reshape(b, h // period, period, w // period, period)
    mean_tile = tiles.mean(dim=(1, 3))
    mean_tile = mean_tile - mean_tile.mean(dim=(1, 2), keepdim=True)
    count = (h // period) * (w // period)
    return count * mean_tile.square().mean(dim=(1, 2)) / high.square().mean(dim=(1, 2, 3)).clamp_min(1e-12)


def grid_loss(images: torch.Tensor, reference: torch.Tensor, period: int = 8) -> torch.Tensor:
    """Mean over the batch of ``lattice_energy(images) - lattice_energy(reference)``.

    Args:
        images: B x 3 x H x W, the decoder's output.
        reference: B x 3 x H x W, a picture with no lattice (the content crops).
        period: the decoder's largest upsampling period in px.

    Returns:
        A float32 scalar, about 0 when the outputs have no more lattice-locked
        pattern than their references (it may be slightly negative).
    """
    with torch.no_grad():
        ref = lattice_energy(reference, period)
    return (lattice_energy(images, period) - ref).mean()


__all__ = ["HIGHPASS_BOX", "grid_loss", "lattice_energy"]
