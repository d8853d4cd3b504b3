"""Resizing of image tensors.

All functions take RGB float tensors in [0, 1] and return new tensors; inputs
are never modified in place. torch is imported inside :func:`resize_tensor`
only, so :func:`fit_long_side` serves the torch-free (ONNX) path too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from painterly.errors import ImageError, UsageError, did_you_mean

if TYPE_CHECKING:
    import torch

#: Interpolation modes accepted by :func:`resize_tensor` (names of
#: ``torch.nn.functional.interpolate`` modes).
RESAMPLE_MODES = ("bicubic", "bilinear", "area", "nearest", "nearest-exact")


def fit_long_side(width: int, height: int, size: int) -> tuple[int, int]:
    """Size that scales ``width x height`` so its long side is ``size`` pixels.

    Args:
        width: Current width in pixels, >= 1.
        height: Current height in pixels, >= 1.
        size: Wanted length of the long side in pixels, >= 1.

    Returns:
        ``(new_width, new_height)``: the long side equals ``size``, the
        aspect ratio is kept to the nearest pixel and neither side is below 1
        (a 1000 x 2 strip resized to 10 px is 10 x 1, not 10 x 0).

    Raises:
        UsageError: ``size`` is not a positive integer.
        ImageError: ``width`` or ``height`` is not positive.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise UsageError(f"size must be a positive number of pixels, got {size!r}")
    if width < 1 or height < 1:
        raise ImageError(f"cannot resize an empty image ({width}x{height})")
    if width >= height:
        return size, max(1, round(height * size / width))
    return max(1, round(width * size / height)), size


def resize_tensor(
    image: torch.Tensor,
    size_hw: tuple[int, int],
    antialias: bool = True,
    mode: str = "bicubic",
) -> torch.Tensor:
    """Resize an image batch to an exact height and width.

    Args:
        image: Float tensor (B, C, H, W) or (C, H, W), values in [0, 1].
        size_hw: Target ``(height, width)`` in pixels, each >= 1.
        antialias: Low-pass filter when shrinking. Only applied when a side
            gets smaller: when enlarging it would just blur.
        mode: One of :data:`RESAMPLE_MODES`.

    Returns:
        A new tensor of the same rank, dtype and device, shape
        (B, C, height, width), clamped to [0, 1] because bicubic
        interpolation overshoots near edges.

    Raises:
        UsageError: Unknown ``mode`` or a size below 1.
        ImageError: ``image`` is not a 3-D or 4-D floating-point tensor.
    """
    import torch.nn.functional as F

    if mode not in RESAMPLE_MODES:
        raise UsageError(
            f"unknown resample mode {mode!r}; use one of {', '.join(RESAMPLE_MODES)}"
            + did_you_mean(mode, RESAMPLE_MODES)
        )
    height, width = (int(s) for s in size_hw)
    if height < 1 or width < 1:
        raise UsageError(f"resize target must be at least 1x1 pixels, got {width}x{height}")
    if image.dim() not in (3, 4) or not image.is_floating_point():
        raise ImageError(
            f"expected a float image tensor of shape (B, C, H, W) or (C, H, W), "
            f"got {tuple(image.shape)} {image.dtype}"
        )
    batched = image if image.dim() == 4 else image.unsqueeze(0)
    in_h, in_w = batched.shape[-2:]
    if (in_h, in_w) == (height, width):
        out = batched.clone()
    else:
        kwargs = {}
        if mode in ("bicubic", "bilinear"):
            kwargs["align_corners"] = False
            kwargs["antialias"] = antialias and (height < in_h or width < in_w)
        out = F.interpolate(batched, size=(height, width), mode=mode, **kwargs)
        out = out.clamp_(0.0, 1.0)
    return out if image.dim() == 4 else out.squeeze(0)


def resize_long_side(
    image: torch.Tensor, size: int, antialias: bool = True, mode: str = "bicubic"
) -> torch.Tensor:
    """Resize so the long side is ``size`` pixels, keeping the aspect ratio.

    Args:
        image: Float tensor (B, C, H, W) or (C, H, W), values in [0, 1].
        size: Long side of the result in pixels, >= 1.
        antialias: See :func:`resize_tensor`.
        mode: See :func:`resize_tensor`.

    Returns:
        A new tensor (B, C, H', W') with ``max(H', W') == size``, in [0, 1].
    """
    height, width = image.shape[-2:]
    new_w, new_h = fit_long_side(int(width), int(height), size)
    return resize_tensor(image, (new_h, new_w), antialias=antialias, mode=mode)
