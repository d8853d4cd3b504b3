"""Paint photos in the style of any image with a trained AdaIN decoder (Huang & Belongie 2017).

Pipeline of :func:`stylize_array` (uint8 (H, W, 3) photo in, same size out):

1. ``strength == 0``: the photo itself.
2. The photo is shrunk (Pillow, antialiased) to ``work_size`` px on its
   long side, if larger.
3. The style images (``style_size`` px long side; a large JPEG decodes at a
   reduced scale first, 5x faster for a 22-megapixel painting) are encoded once per
   stylizer; with ``preserve_color="histogram"`` each is first recoloured to
   the photo's colour mean and covariance (the colour control of section 7
   of the AdaIN paper, after Gatys et al. 2016), so they are re-encoded for
   every photo.
4. One pass of the network (:func:`painterly.arbitrary.runtime.stylize_pixels`:
   encode, AdaIN in numpy with style interpolation by ``style_weights``,
   ``alpha`` and the two-style ``mask``, decode). ``transform`` picks AdaIN,
   EFDM or WCT at relu4_1 (:mod:`painterly.arbitrary.transforms`).
   ``color_shift`` then moves the result's mean colour toward the
   paintings' (:func:`shift_mean_colour`; not with ``preserve_color`` or a mask).
   With ``refine = N > 0``, N optimization iterations start from this result
   at ``refine_size`` px (:mod:`painterly.arbitrary.refine`), and step 5
   upsamples the refined picture instead.
5. Back to the photo's size by guided upsampling (``upsample="guided"``,
   :mod:`painterly.imaging.guided`) or bicubic.
6. ``preserve_color="luminance"`` keeps the result's luma with the photo's
   chroma; ``strength < 1`` blends with the photo.

Why guided upsampling and not tiles, for photos larger than ``work_size``
(the measured comparison of time, sharpness and change from the working-size
result is ``benchmarks/adain_highres.py``, results in
``benchmarks/results/adain_highres.txt``):

* Tiles at full resolution cost the network's full-resolution price (4x the
  pixels at 2x the size), and they change the picture: AdaIN's strokes have
  a fixed size in pixels (the decoder's receptive field), so at full
  resolution they become small relative to the image and the painting
  looks like a finely textured photo instead of the working-resolution
  result that the user previewed.
* Guided upsampling keeps the working-resolution painting (its colours and
  strokes are in the low-resolution coefficients) and takes edges and fine
  detail from the full-resolution photo, for a small fraction of the
  network's time; its memory is a few bands of rows at full resolution.

The model runs with torch (``.safetensors``) or onnxruntime (its ``.onnx``
export, ``painterly export adain``: no torch import, faster on CPU; see
:mod:`painterly.arbitrary.runtime`). This path is chosen by ``painterly stylize --style-image``
(see :mod:`painterly.cli.fast_commands`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ..config import StylizeConfig
from ..errors import Cancelled, ConfigError, UsageError
from ..imaging.guided import guided_upsample
from ..models.checkpoints import ModelInfo
from ..progress import OptionalCallback, OptionalCancel, Progress
from .runtime import DEFAULT_MODEL, Runtime, Stats, load_runtime, resolve_adain_model, style_stats, stylize_pixels


def _resize(pixels: np.ndarray, long_side: int) -> np.ndarray:
    """uint8 (H, W, C) resized (Pillow bicubic, antialiased) so its long side is ``long_side``."""
    from PIL import Image

    from ..imaging.resize import fit_long_side

    h, w = pixels.shape[:2]
    size = fit_long_side(w, h, long_side)
    if size == (w, h):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BICUBIC))


class ArbitraryStylizer:
    """An AdaIN model with its style images (and mask) loaded, to paint many photos.

    Args:
        config: ``style_images`` (required), ``model`` (default ``adain``),
            ``backend`` (``auto`` prefers the ``.onnx`` export of a model
            name, which runs without torch), ``style_size``, ``mask``,
            ``device``, ``threads``, ``max_pixels`` are used here; the rest
            per photo by :func:`stylize_array`.
        model: an already loaded :class:`~painterly.models.adain.AdaINModel`
            (``config.model`` is then not read; runs with torch).
        styles: the style images (paths, file objects or PIL images) instead of
            ``config.style_images``.

    Raises:
        ImageError: a style image or the mask cannot be read (checked first).
        ModelError, UsageError: see :func:`~painterly.arbitrary.runtime.resolve_adain_model`.
        ConfigError: no style images.

    Attributes:
        runtime: the :mod:`~painterly.arbitrary.runtime` running the model.
        info: the model file's metadata (None for a model passed in).
        style_names: the style images' file stems.
        backend: ``"torch"`` or ``"onnx"``.
    """

    def __init__(self, config: StylizeConfig, model: Any = None, styles: Optional[Sequence[Any]] = None) -> None:
        from ..imaging.io import load_array

        sources = list(styles) if styles else list(config.style_images)
        if not sources:
            raise ConfigError("no style images: give at least one", field="style_images")
        # Style images and the mask are read first (a typo is the likeliest error), then the
        # model: whatever is wrong fails before any photo is touched.
        self.styles = [load_array(p, size=config.style_size, max_pixels=config.max_pixels, draft=True) for p in sources]
        self.style_names = [
            Path(str(p)).stem if isinstance(p, (str, Path)) else f"style {i + 1}" for i, p in enumerate(sources)
        ]
        self.mask: Optional[np.ndarray] = None
        if config.mask:
            rgb = load_array(config.mask, max_pixels=config.max_pixels)
            self.mask = rgb.astype(np.float32).mean(axis=2) / 255.0
        self.runtime: Runtime = load_runtime(
            config.model if model is None else model, config.backend, config.device, config.threads
        )
        self.info: Optional[ModelInfo] = self.runtime.info
        self.backend = self.runtime.backend
        self._stats: Optional[List[Stats]] = None

    @property
    def name(self) -> str:
        return self.info.name if self.info is not None else DEFAULT_MODEL

    def style_stats(self, photo: Optional[np.ndarray] = None) -> List[Stats]:
        """The styles' relu4_1 statistics; each style recoloured to ``photo`` first when it is given."""
        if photo is None and self._stats is not None:
            return self._stats
        stats = []
        for style in self.styles:
            if photo is not None:
                from ..imaging.array_color import match_histogram_array

                style = match_histogram_array(style, photo)
            stats.append(style_stats(self.runtime, style))
        if photo is None:
            self._stats = stats
        return stats

    def run(self, work: np.ndarray, config: StylizeConfig) -> np.ndarray:
        """The network on a working-size photo: uint8 (h, w, 3) -> float32 (h, w, 3) in [0, 1]."""
        stats = self.style_stats(work if config.preserve_color == "histogram" else None)
        weights = list(config.style_weights) if config.style_weights else None
        if self.mask is not None and len(stats) != 2:
            raise ConfigError(f"a mask needs exactly two style images, not {len(stats)}")
        low = stylize_pixels(self.runtime, work, stats, weights, config.alpha, self.mask, transform=config.transform)
        if config.color_shift > 0 and config.preserve_color == "none" and self.mask is None:
            low = shift_mean_colour(low, self.style_colour(weights), config.color_shift * config.alpha)
        return low

    def style_colour(self, weights: Optional[Sequence[float]] = None) -> np.ndarray:
        """The styles' mean RGB colour in [0, 1], (3,) float32, weighted like their features."""
        from .runtime import _style_weights

        w = _style_weights(weights, len(self.styles))
        means = [s.reshape(-1, 3).mean(axis=0, dtype=np.float64) / 255.0 for s in self.styles]
        return np.sum([wk * m for wk, m in zip(w, means)], axis=0).astype(np.float32)


def shift_mean_colour(image: np.ndarray, colour: np.ndarray, amount: float) -> np.ndarray:
    """``image`` with its mean colour moved ``amount`` of the way to ``colour``.

    The decoder gets the painting's feature statistics at relu4_1 but not its exact
    palette: its outputs' mean colour stays between the photo's and the painting's.
    A constant RGB offset closes that gap without touching contrast or texture
    (matching the colour covariance as well raised the content error more than it
    gained; docs/models.md).

    Args:
        image: float32 (h, w, 3), RGB in [0, 1] (not clamped here).
        colour: (3,) target mean RGB in [0, 1].
        amount: 0 (unchanged) to 1 (means equal).

    Returns:
        A new float32 (h, w, 3) array.
    """
    offset = np.float32(amount) * (np.asarray(colour, np.float32) - image.reshape(-1, 3).mean(axis=0, dtype=np.float64).astype(np.float32))
    return image + offset


def work_shape(height: int, width: int, work_size: int) -> Tuple[int, int]:
    """(h, w) at which the network runs: the photo shrunk to ``work_size`` long side (never enlarged)."""
    from ..imaging.resize import fit_long_side

    if work_size <= 0 or max(height, width) <= work_size:
        return height, width
    w, h = fit_long_side(width, height, work_size)
    return h, w


def stylize_array(
    pixels: np.ndarray,
    stylizer: ArbitraryStylizer,
    config: StylizeConfig,
    *,
    upsample: Optional[str] = None,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
) -> np.ndarray:
    """Paint a photo already at its output size (steps 1-6 of the module docstring).

    Args:
        pixels: uint8 (H, W, 3) RGB (``config.size`` is not applied here).
        stylizer: from :class:`ArbitraryStylizer`.
        config: ``strength``, ``style_weights``, ``alpha``, ``preserve_color``,
            ``work_size`` and ``upsample`` are used.
        upsample: overrides ``config.upsample`` (``guided`` or ``bicubic``).
        on_progress, cancel: for ``config.refine`` (see
            :func:`painterly.arbitrary.refine.refine`); the one pass itself is
            not interruptible.

    Returns:
        A new uint8 (H, W, 3) array.

    Raises:
        Cancelled: ``cancel`` was set during refining; ``.result`` is the
            best image so far, uint8 (H, W, 3), finished like a full result.
    """
    from ..imaging.array_color import finish_array

    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise UsageError(f"expected a uint8 (H, W, 3) image, got {pixels.dtype} {pixels.shape}")
    if config.strength == 0:
        return pixels.copy()
    height, width = pixels.shape[:2]
    h, w = work_shape(height, width, config.work_size)
    work = pixels if (h, w) == (height, width) else _resize(pixels, max(h, w))
    low = stylizer.run(work, config)
    guide = work
    refined = None
    if config.refine > 0:
        from .refine import refine

        if on_progress is not None:
            on_progress(Progress(kind="arbitrary", step=1, total=config.refine + 1, size=work.shape[:2]))
        styles = stylizer.styles
        if config.preserve_color == "histogram":
            from ..imaging.array_color import match_histogram_array

            styles = [match_histogram_array(s, work) for s in styles]
        refined = refine(work, low, styles, config, mask=stylizer.mask, on_progress=on_progress, cancel=cancel)
        low, guide = refined.image, refined.guide
    method = upsample or config.upsample
    if low.shape[:2] == (height, width):
        out = np.rint(np.clip(low, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif method == "guided":
        from ..cores import usable_cores

        guide_low = guide.astype(np.float32) / (255.0 if guide.dtype == np.uint8 else 1.0)
        out = guided_upsample(low, guide_low, pixels, threads=config.threads or usable_cores())
    else:
        from PIL import Image

        small = Image.fromarray(np.rint(np.clip(low, 0.0, 1.0) * 255.0).astype(np.uint8))
        out = np.array(small.resize((width, height), Image.Resampling.BICUBIC), dtype=np.uint8)
    # Histogram colour preservation recoloured the styles before encoding (above).
    out = finish_array(out, pixels, "luminance" if config.preserve_color == "luminance" else "", config.strength)
    if refined is not None and refined.interrupted:
        from PIL import Image

        raise Cancelled(f"refining stopped after {refined.iterations} iterations", image=Image.fromarray(out), result=out)
    return out


__all__ = [
    "DEFAULT_MODEL",
    "ArbitraryStylizer",
    "resolve_adain_model",
    "shift_mean_colour",
    "stylize_array",
    "work_shape",
]
