"""Quality mode for arbitrary style: a few optimization iterations from the one-pass result (issue 17).

The one-pass decoder paints any painting in a second but, on paintings it
never saw, misses part of their texture and leaves a faint grid at its
upsampling periods. ``refine = N`` hands its result to the project's
optimization engine (:func:`painterly.gatys.run.run_transfer`, L-BFGS, one
scale) as the start image: N iterations at ``refine_size`` px pull the
picture's VGG statistics toward the painting's and smooth the grid (the
optimizer has no reason to keep energy at the decoder's periods), and
because it starts from a finished painting, a few iterations suffice where
a transfer from the photo needs hundreds. The result goes back to the
output size by the same guided upsampling as the one-pass result.

The style images are used at the one-pass ratio to the photo
(``style_size * refine_long / work_long``), so refining keeps the stroke
size the user previewed instead of changing it.

This module is where the arbitrary method calls the optimization method;
the import is lazy and one-way (``gatys`` never imports ``arbitrary``), so
the one-pass path still never imports torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from ..config import StylizeConfig
from ..progress import OptionalCallback, OptionalCancel, Progress


@dataclass(frozen=True)
class Refined:
    """What :func:`refine` returns.

    Attributes:
        image: float32 (h, w, 3) RGB in [0, 1] at the refine size.
        guide: float32 (h, w, 3) the photo at the same size (for guided upsampling).
        iterations: optimizer iterations run.
        losses: the loss parts of the returned image.
        interrupted: the cancel event stopped it; ``image`` is the best so far.
    """

    image: np.ndarray
    guide: np.ndarray
    iterations: int
    losses: dict
    interrupted: bool


def refine_shapes(work_hw: Tuple[int, int], refine_size: int, style_size: int) -> Tuple[Tuple[int, int], int]:
    """((h, w) to optimize at, style long side in px) for a working-size photo of ``work_hw``.

    Never larger than the working size; the style keeps its one-pass ratio to the photo.
    """
    from ..imaging.resize import fit_long_side

    h, w = work_hw
    long_side = min(refine_size, max(h, w))
    rw, rh = fit_long_side(w, h, long_side)
    return (rh, rw), max(16, round(style_size * max(rh, rw) / max(h, w)))


def _resize(pixels: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
    from PIL import Image

    if pixels.shape[:2] == tuple(hw):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((hw[1], hw[0]), Image.Resampling.BICUBIC))


def _u8(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def refine(
    work: np.ndarray,
    painted: np.ndarray,
    styles: Sequence[np.ndarray],
    config: StylizeConfig,
    *,
    mask: Optional[np.ndarray] = None,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
) -> Refined:
    """Run ``config.refine`` L-BFGS iterations from a one-pass result.

    Args:
        work: uint8 (h, w, 3) the photo at the working size.
        painted: float32 (h, w, 3) in [0, 1], the one-pass result at the same size.
        styles: uint8 (hs, ws, 3) style images (any size; resized here).
        config: ``refine``, ``refine_size``, ``refine_style_weight``, ``style_size``, ``style_weights``
            (blend), ``device`` and ``max_pixels`` are used.
        mask: optional (Hm, Wm) float in [0, 1] of the photo's aspect ratio,
            white = first of two styles (the optimization's region mask).
        on_progress: receives ``kind="arbitrary"`` events; step 1 is the
            one-pass result, steps 2..N+1 the iterations (with snapshots).
        cancel: checked after every iteration; when set, the best image so far is returned.

    Returns:
        A :class:`Refined` at the refine size.
    """
    import torch

    from .. import gatys
    from ..config import TransferConfig

    hw, style_long = refine_shapes(work.shape[:2], config.refine_size, config.style_size)
    guide = _resize(work, hw)
    init = _resize(_u8(painted), hw)

    def tensor(a: np.ndarray) -> Any:
        return torch.from_numpy(np.array(a, dtype=np.uint8)).permute(2, 0, 1)[None].float().div_(255.0)

    style_tensors = []
    for s in styles:
        from ..imaging.resize import fit_long_side

        sw, sh = fit_long_side(s.shape[1], s.shape[0], style_long)
        style_tensors.append(tensor(_resize(s, (sh, sw))))
    cfg = TransferConfig(
        size=max(hw), iterations=config.refine, multiscale=False, style_size=style_long,
        style_weight=config.refine_style_weight,
        style_blend=tuple(config.style_weights), device=config.device, max_pixels=config.max_pixels,
    )

    def forward(event: Progress) -> None:
        if on_progress is not None:
            on_progress(dataclasses.replace(event, kind="arbitrary", step=event.step + 1, total=event.total + 1))

    region = None
    if mask is not None:
        from PIL import Image

        region = Image.fromarray(_u8(mask)).resize((hw[1], hw[0]), Image.Resampling.BILINEAR)
    result = gatys.run_transfer(
        tensor(guide), style_tensors, cfg, mask=region, callback=forward, cancel=cancel, init_image=tensor(init)
    )
    image = result.tensor[0].permute(1, 2, 0).numpy().astype(np.float32)
    return Refined(image, guide.astype(np.float32) / 255.0, result.iterations, dict(result.losses), result.interrupted)


__all__ = ["Refined", "refine", "refine_shapes"]
