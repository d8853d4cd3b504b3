"""Images as tensors: PIL <-> (1, 3, H, W) float tensors in [0, 1], and handing results back in the caller's kind.

torch is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from painterly.errors import ImageError

if TYPE_CHECKING:  # torch is imported lazily
    import torch


def _is_tensor(obj: object) -> bool:
    # A tensor cannot exist unless torch was imported, so this never imports it.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def _tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    import torch

    if tensor.dim() == 4:
        if tensor.shape[0] != 1:
            raise ImageError(
                f"expected a single image, got a batch of {tensor.shape[0]} "
                f"(shape {tuple(tensor.shape)}); save them one at a time"
            )
        tensor = tensor[0]
    if tensor.dim() != 3 or tensor.shape[0] not in (1, 3):
        raise ImageError(
            f"expected an image tensor of shape (3, H, W) or (1, 3, H, W), "
            f"got {tuple(tensor.shape)}"
        )
    if tensor.shape[-1] < 1 or tensor.shape[-2] < 1:
        raise ImageError(f"image tensor is empty: shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 1:
        tensor = tensor.expand(3, -1, -1)
    data = tensor.detach().to("cpu", torch.float32)
    # nan_to_num: a diverged optimisation should still save something visible
    # (NaN would become an arbitrary byte after the uint8 cast).
    data = torch.nan_to_num(data, nan=0.0).clamp(0.0, 1.0).mul(255.0).round()
    arr = data.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(arr, mode="RGB")



def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """Convert a PIL image to a tensor.

    Args:
        img: A PIL image; anything but RGB goes through :func:`open_image`'s
            conversions first (alpha over white, 16-bit scaled, ...).

    Returns:
        float32 tensor (1, 3, H, W) in [0, 1] (8-bit level / 255).
    """
    import torch

    if img.mode != "RGB":
        from .decode import open_image  # decode imports this module at its top

        img = open_image(img, max_pixels=None)
    arr = np.asarray(img, dtype=np.uint8)
    tensor = torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)
    return tensor.to(torch.float32).div_(255.0)


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """Convert an image tensor to an 8-bit RGB PIL image.

    Args:
        tensor: (3, H, W) or (1, 3, H, W) floats, nominally in [0, 1]; a
            single-channel (1, H, W) tensor is taken as gray. Any device and
            dtype; gradients are ignored.

    Returns:
        PIL image in mode ``"RGB"``: values clamped to [0, 1], scaled by 255
        and rounded (not truncated, which would darken by half a level).

    Raises:
        ImageError: Any other shape, or a batch of more than one.
    """
    return _tensor_to_pil(tensor)



def image_like(pixels: np.ndarray, source: object) -> object:
    """Return ``pixels`` as the kind of image ``source`` was (the stylizers' return type).

    Args:
        pixels: uint8 (H, W, 3) RGB.
        source: what the caller passed in: for a tensor the result is a
            float32 tensor (1, 3, H, W) in [0, 1] on the CPU, else a PIL RGB image.
    """
    if _is_tensor(source):
        import torch

        return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).to(torch.float32).div_(255.0)
    return Image.fromarray(pixels)


__all__ = ["image_like", "image_to_tensor", "tensor_to_image"]
