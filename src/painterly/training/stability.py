"""The stability term of feed-forward training: a network that is steady on video on its own.

Per-frame stylization flickers because the network's output changes far more
than its input does from one frame to the next: a sub-pixel move, sensor or
codec noise, or a slight change of exposure repaints the brush strokes. The
term here trains that away without video or optical flow (the "stability
loss" of Gupta et al. 2017, "Characterizing and Improving Stability in Neural
Style Transfer", and the output-warping part of ReCoNet, Gao et al. 2018):
each training crop ``x`` gets a random small perturbation ``P`` (a warp ``W``,
then a brightness gain and Gaussian noise),
and the network must commute with it::

    L = mean over valid pixels of || f(P(x)) - W(f(x)) ||^2 / 3

(RGB in [0, 1]). ``W(f(x))`` is where the strokes of ``f(x)`` would be had
the camera moved by ``W``; the gain and noise are nuisances ``f`` should
ignore, so they are not applied to the target. Pixels whose warp samples
outside the crop, and a margin along the border where the network's padding
differs between the two, are left out ("valid").

Where this departs from the papers: the flow is synthetic (a random shift
instead of the flow between real video frames), so no video data or flow
network is needed; the gradient flows through both ``f(P(x))`` and
``W(f(x))``, as in Gupta et al.

Why whole-pixel shifts by default: a sub-pixel, rotated or zoomed ``W``
resamples ``f(x)`` bilinearly, which blurs the target. A shift by whole
pixels moves ``f(x)`` exactly; shifts of -3..3 px cover every phase of the
network's stride-4 downsampling, a main reason its strokes jump when the
picture moves. :class:`PerturbationRange` still offers sub-pixel shifts,
rotation and zoom.

What it costs (benchmarks/results/temporal_training.txt, starry_night
fine-tuned 50 iterations, 60 fox frames painted one by one, against a
weight-0 fine-tune): weight 30 lowered the warping error to 0.77x with style
error 1.11x and high-frequency detail 0.82x; weight 100 to 0.58x, 1.27x and
0.65x. The network gets steadier mostly by painting less fine texture, so
the weight trades flicker for detail.

Everything here is a pure function of tensors; randomness comes only from the
``torch.Generator`` the caller passes, so a training run can draw the same
perturbations on resume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class PerturbationRange:
    """How large the random perturbations are (each drawn uniformly in +-range per image).

    Attributes:
        shift: translation in px of the crop.
        whole_pixels: shifts are whole numbers of px (uniform over -shift..shift),
            else any real value in that range.
        rotate: rotation in degrees (0 with whole pixels keeps the warp exact).
        zoom: relative scale change (0.02: 98% to 102%).
        gain: relative brightness change of the input (0.03: x0.97 to x1.03).
        noise: standard deviation of the Gaussian noise added to the input (RGB 0..1).
        margin: px along each border left out of the loss (the network's padding
            sees different pixels there in the two images).
    """

    shift: float = 3.0
    whole_pixels: bool = True
    rotate: float = 0.0
    zoom: float = 0.0
    gain: float = 0.03
    noise: float = 0.01
    margin: int = 4

    def to_dict(self) -> dict:
        """The ranges, JSON-ready (for a model's metadata)."""
        return {k: getattr(self, k) for k in ("shift", "whole_pixels", "rotate", "zoom", "gain", "noise", "margin")}


#: The ranges training uses: whole-pixel moves of up to 3 px (every phase of the
#: stride-4 downsampling), a little exposure drift and codec noise.
DEFAULT_RANGE = PerturbationRange()


@dataclass(frozen=True)
class Perturbation:
    """One random perturbation per batch element (see :func:`random_perturbation`).

    Attributes:
        grid: B x H x W x 2 sampling grid of the warp (``grid_sample`` convention,
            ``align_corners=False``): output pixel p takes the input at grid[p].
        valid: B x 1 x H x W, 1 where the warp samples inside the image and
            away from the border margin, else 0.
        gain: B x 1 x 1 x 1 brightness factors of the perturbed input.
        noise: B x 3 x H x W noise added to the perturbed input.
    """

    grid: torch.Tensor
    valid: torch.Tensor
    gain: torch.Tensor
    noise: torch.Tensor


def _uniform(n: int, half_range: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * half_range


def random_perturbation(
    batch: int, height: int, width: int, *, generator: torch.Generator, ranges: PerturbationRange = DEFAULT_RANGE,
    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
) -> Perturbation:
    """Draw a perturbation per image of a B x 3 x H x W batch.

    The numbers are drawn on the CPU from ``generator`` (in a fixed order, so
    the same generator state gives the same perturbation on any device), then
    moved to ``device``.

    Args:
        batch, height, width: the batch's shape (px).
        generator: the source of randomness.
        ranges: the perturbation sizes.
        device, dtype: of the returned tensors.
    """
    shift_x = _uniform(batch, ranges.shift, generator)
    shift_y = _uniform(batch, ranges.shift, generator)
    if ranges.whole_pixels:
        # Uniform over the integers -k..k (the same draws, mapped).
        k = math.floor(ranges.shift)
        shift_x = torch.floor((shift_x / max(ranges.shift, 1e-9) + 1) / 2 * (2 * k + 1)).clamp(max=2 * k) - k
        shift_y = torch.floor((shift_y / max(ranges.shift, 1e-9) + 1) / 2 * (2 * k + 1)).clamp(max=2 * k) - k
    angle = _uniform(batch, math.radians(ranges.rotate), generator)
    zoom = 1 + _uniform(batch, ranges.zoom, generator)
    gain = 1 + _uniform(batch, ranges.gain, generator)
    noise = torch.randn(batch, 3, height, width, generator=generator) * ranges.noise

    # The warp in pixel units about the centre, expressed in grid_sample's
    # normalized coordinates (x in [-1, 1] spans the width): output pixel q
    # samples the input at A q + t.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    aspect = height / width
    theta = torch.zeros(batch, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = cos
    theta[:, 0, 1] = -sin * aspect
    theta[:, 1, 0] = sin / aspect
    theta[:, 1, 1] = cos
    theta[:, 0, 2] = -2 * shift_x / width
    theta[:, 1, 2] = -2 * shift_y / height
    grid = F.affine_grid(theta, [batch, 3, height, width], align_corners=False)

    # Valid: the sample lies inside the image shrunk by the margin, and the
    # output pixel itself lies outside the margin.
    mx, my = 2 * ranges.margin / width, 2 * ranges.margin / height
    inside = (grid[..., 0].abs() <= 1 - mx) & (grid[..., 1].abs() <= 1 - my)
    ys = (torch.arange(height, dtype=torch.float64) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=torch.float64) + 0.5) / width * 2 - 1
    own = (ys.abs() <= 1 - my)[:, None] & (xs.abs() <= 1 - mx)[None, :]
    valid = (inside & own).unsqueeze(1)
    return Perturbation(
        grid=grid.to(device=device, dtype=dtype),
        valid=valid.to(device=device, dtype=dtype),
        gain=gain.view(batch, 1, 1, 1).to(device=device, dtype=dtype),
        noise=noise.to(device=device, dtype=dtype),
    )


def warp(images: torch.Tensor, perturbation: Perturbation) -> torch.Tensor:
    """Move ``images`` (B x C x H x W) by the perturbation's warp alone (bilinear, reflected borders)."""
    grid = perturbation.grid.to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def perturb(images: torch.Tensor, perturbation: Perturbation) -> torch.Tensor:
    """The perturbed input: warped, scaled by the gain, plus noise, clamped to [0, 1].

    Args:
        images: B x 3 x H x W RGB [0, 1].
    """
    moved = warp(images, perturbation) * perturbation.gain.to(images.dtype)
    return (moved + perturbation.noise.to(images.dtype)).clamp(0, 1)


def stability_loss(output: torch.Tensor, perturbed_output: torch.Tensor, perturbation: Perturbation) -> torch.Tensor:
    """Mean squared difference between ``f(P(x))`` and ``W(f(x))`` on the valid pixels.

    Args:
        output: f(x), B x 3 x H x W.
        perturbed_output: f(P(x)), the same shape.
        perturbation: the ``P`` (and its warp ``W``) that made the perturbed input.

    Returns:
        A scalar (float32, or float64 for float64 inputs): per valid pixel, the squared RGB difference averaged
        over the 3 channels, as the warping error of
        :class:`painterly.video.metrics.WarpingError` (RGB in [0, 1]).
        Zero for a network that commutes with the warp and ignores the gain and noise.
    """
    if output.shape != perturbed_output.shape:
        raise ValueError(f"output shapes differ: {tuple(output.shape)} vs {tuple(perturbed_output.shape)}")
    # At least float32 (bf16 outputs under autocast), float64 kept for gradient checks.
    dtype = torch.promote_types(torch.promote_types(output.dtype, perturbed_output.dtype), torch.float32)
    target = warp(output.to(dtype), perturbation)
    valid = perturbation.valid.to(dtype)
    squared = (perturbed_output.to(dtype) - target).pow(2).mean(dim=1, keepdim=True)
    return (squared * valid).sum() / valid.sum().clamp_min(1.0)


__all__ = [
    "DEFAULT_RANGE",
    "Perturbation",
    "PerturbationRange",
    "perturb",
    "random_perturbation",
    "stability_loss",
    "warp",
]
