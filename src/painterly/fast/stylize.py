"""Stylize photos with a trained feed-forward model: one forward pass per image or tile.

Backend-agnostic and torch-free at import: the work is done by a *stylizer*,
either :class:`~painterly.fast.torch_runtime.TorchStylizer` (``.safetensors``
models) or :class:`~painterly.fast.onnx_runtime.OnnxStylizer` (``.onnx``
models, no torch import at all), both with the same numpy interface::

    stylizer(batch, style_weights=None, norm_stats=None) -> batch
    stylizer.norm_stats(batch, style_weights=None) -> (B, K) or None
    stylizer.info / .backend / .align / .supports_norm_stats

where ``batch`` is float32 (B, 3, H, W) RGB in [0, 1]. Images travel as uint8
(H, W, 3) arrays: 3 bytes per pixel, so a 6000 x 4000 photo stays far under
1 GB of memory end to end (see :mod:`painterly.fast.tiling`).

Pipeline of :func:`stylize_array`:

1. ``strength == 0``: the photo itself, without running the network.
2. Images with a side over ``tile_size`` px: the instance-norm statistics
   are computed once, on the whole image downscaled to the pixel count of
   one tile, and shared by all tiles (``fast/tiling.py`` explains why).
3. The network, tile by tile with cosine-feathered overlaps.
4. ``preserve_color``: ``luminance`` keeps the stylized luma with the photo's
   chroma (YIQ); ``histogram`` matches the stylized image's colour mean and
   covariance to the photo's. Both post-process the output, as a
   feed-forward network has the style baked in (Gatys et al. 2016 apply them
   to the inputs of an optimization instead).
5. ``strength < 1``: a linear blend with the photo.

:func:`load_stylizer` runs ``kind == "feedforward"`` models. Arbitrary-style
(AdaIN, ``kind == "adain"``) models take their style from an image and are
run by :mod:`painterly.arbitrary.stylize` (``painterly stylize --style-image``
picks it; algorithms do not import each other, so the CLI dispatches);
:func:`load_stylizer` refuses them with that hint.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Optional, Protocol, Sequence, Tuple

import numpy as np

from ..config import StylizeConfig
from ..errors import ConfigError, ModelError, UsageError, did_you_mean
from ..models.checkpoints import ModelInfo, PathLike, find_model, read_model_info, runtime_kind
from .tiling import count_tiles, stylize_tiled


class Stylizer(Protocol):
    """What :func:`stylize_array` needs from a backend (see the module docstring)."""

    info: ModelInfo
    backend: str
    align: int
    supports_norm_stats: bool

    def __call__(
        self, batch: np.ndarray, style_weights: Optional[np.ndarray] = None, norm_stats: Optional[np.ndarray] = None
    ) -> np.ndarray: ...

    def norm_stats(self, batch: np.ndarray, style_weights: Optional[np.ndarray] = None) -> Optional[np.ndarray]: ...


# -- models and backends -------------------------------------------------------


def resolve_model(model: PathLike, backend: str = "auto") -> Tuple[Path, str]:
    """Find the model file and the backend that runs it.

    Args:
        model: a model name (see ``painterly models``) or a file path.
        backend: ``auto`` (``.onnx`` -> onnx, ``.safetensors`` -> torch; a
            bare name prefers the ``.onnx`` file when both exist), ``torch``
            or ``onnx``.

    Returns:
        ``(path, backend)`` with backend ``torch`` or ``onnx``.

    Raises:
        UsageError: no model given, or a backend that cannot run that file.
        ModelError: unknown name (with did-you-mean) or missing file.
    """
    if not str(model).strip():
        raise UsageError("no model given: pass --model NAME or a model file (see 'painterly models')")
    prefer = (".safetensors", ".onnx") if backend == "torch" else (".onnx", ".safetensors")
    path = find_model(model, prefer=prefer)
    kind = runtime_kind(path, backend, f"painterly export {model} -o {path.stem}.onnx")
    return path, kind


def load_stylizer(
    model: PathLike, backend: str = "auto", device: str = "cpu", threads: int = 0
) -> Stylizer:
    """Load a model for :func:`stylize_array`; torch is imported only for ``.safetensors`` models.

    Raises:
        UsageError, ModelError: see :func:`resolve_model`; also a model whose
            kind this painterly cannot stylize with.
    """
    path, kind = resolve_model(model, backend)
    if kind == "torch":
        found = read_model_info(path).kind  # the header only: cheap
        if found == "adain":
            raise ModelError(
                f"{path} is an arbitrary-style (AdaIN) model: give the painting to copy with --style-image PAINTING"
            )
    if kind == "onnx":
        from .onnx_runtime import OnnxStylizer

        stylizer: Stylizer = OnnxStylizer(path, device=device, threads=threads)
    else:
        from .torch_runtime import TorchStylizer

        stylizer = TorchStylizer(path, device=device)
    if stylizer.info.kind != "feedforward":
        raise ModelError(f"{path} is a '{stylizer.info.kind}' model; 'painterly stylize' runs feed-forward models")
    return stylizer


# -- style weights -------------------------------------------------------------


def parse_style_weights(text: str, styles: Sequence[str]) -> Tuple[float, ...]:
    """Parse ``--style-weights`` against a model's style names.

    Accepted forms: ``starry:0.7,wave:0.3`` (by name; styles not named get 0),
    ``0.7,0.3`` (one number per style, in order), ``wave`` or ``starry,wave``
    (names alone: equal weights). Style indices work in place of names.

    Returns:
        One weight per style, in the model's order (not normalized).

    Raises:
        UsageError: unknown style name (with did-you-mean), a bad number, or
            the wrong count of plain numbers.
    """
    items = [p.strip() for p in re.split(r"[,\s]+", text.strip()) if p.strip()]
    if not items:
        raise UsageError("--style-weights is empty; give e.g. 'name:0.7,other:0.3' or '0.7,0.3'")
    numbers = []
    for item in items:
        try:
            numbers.append(float(item))
        except ValueError:
            break
    else:
        if len(numbers) != len(styles):
            raise UsageError(
                f"--style-weights has {len(numbers)} numbers but the model has {len(styles)} "
                f"style(s) ({', '.join(styles)}); give one per style or use name:weight"
            )
        return tuple(numbers)
    weights = [0.0] * len(styles)
    for item in items:
        name, sep, value = item.partition(":")
        name = name.strip()
        if name in styles:
            index = list(styles).index(name)
        elif name.isdigit() and int(name) < len(styles):
            index = int(name)
        else:
            raise UsageError(
                f"unknown style '{name}'{did_you_mean(name, styles)}; the model's styles are {', '.join(styles)}"
            )
        try:
            weights[index] += float(value) if sep else 1.0
        except ValueError:
            raise UsageError(f"--style-weights: '{value}' is not a number (in '{item}')") from None
    return tuple(weights)


def style_weight_vector(weights: Sequence[float], styles: Sequence[str]) -> np.ndarray:
    """The (N,) float32 blend for a model with ``styles``: normalized to sum 1; () gives style 0.

    Raises:
        ConfigError: the wrong number of weights, negative, or all zero.
    """
    n = len(styles)
    if not weights:
        return np.eye(1, n, dtype=np.float32)[0]
    if len(weights) != n:
        raise ConfigError(
            f"style_weights has {len(weights)} values but the model has {n} style(s) ({', '.join(styles)})"
        )
    w = np.asarray(weights, dtype=np.float64)
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ConfigError(f"style_weights must be >= 0 and not all 0, not {tuple(weights)}")
    return (w / w.sum()).astype(np.float32)


# -- the pipeline --------------------------------------------------------------


def _downscale(pixels: np.ndarray, max_pixels: int) -> np.ndarray:
    """The image shrunk (Pillow, antialiased) to at most ``max_pixels`` pixels."""
    h, w = pixels.shape[:2]
    if h * w <= max_pixels:
        return pixels
    from PIL import Image

    scale = (max_pixels / (h * w)) ** 0.5
    size = (max(8, int(w * scale)), max(8, int(h * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BICUBIC))


#: Pixels of the copy that gives a tiled image's shared instance-norm statistics.
#: Statistics from a smaller copy shift the whole picture's tone: measured with the
#: bundled starry_night on a 3000 x 2000 photo, a 1 MP copy left a mean difference
#: of 10 levels (of 255) from the untiled result; 6 MP makes photos up to 6 MP exact
#: and costs about 0.3 GB more peak memory than one 1024 px tile (the default fast
#: network's widest map is 16 channels at half resolution).
STATS_PIXELS = 6_000_000


def stylize_array(
    pixels: np.ndarray,
    stylizer: Stylizer,
    config: StylizeConfig,
    progress: Optional[Callable[[int, int], None]] = None,
    *,
    stats_pixels: Optional[int] = None,
) -> np.ndarray:
    """Stylize an image already at its output size (steps 1-5 of the module docstring).

    Args:
        pixels: uint8 (H, W, 3) RGB photo (``config.size`` is not applied here).
        stylizer: from :func:`load_stylizer`.
        config: strength, style_weights, preserve_color, tile_size and
            tile_overlap are used.
        progress: ``progress(done, total)`` after each tile.
        stats_pixels: size of the downscaled copy that gives the shared
            instance-norm statistics of a tiled image, in pixels (default
            :data:`STATS_PIXELS` or one tile, whichever is larger). The
            whole image's pixel count gives exact statistics.

    Returns:
        A new uint8 (H, W, 3) array.
    """
    from ..imaging.array_color import finish_array

    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise UsageError(f"expected a uint8 (H, W, 3) image, got {pixels.dtype} {pixels.shape}")
    if config.strength == 0:
        return pixels.copy()
    weights = style_weight_vector(config.style_weights, stylizer.info.styles)
    h, w = pixels.shape[:2]
    tile, overlap, align = config.tile_size, config.tile_overlap, stylizer.align
    stats = None
    if count_tiles(h, w, tile, overlap, align) > 1 and stylizer.supports_norm_stats:
        from .tiling import to_batch

        budget = stats_pixels if stats_pixels is not None else max(tile * tile, STATS_PIXELS)
        stats = stylizer.norm_stats(to_batch(_downscale(pixels, budget)), weights)

    def run(batch: np.ndarray) -> np.ndarray:
        return stylizer(batch, weights, stats)

    out = stylize_tiled(pixels, run, tile, overlap, align=align, progress=progress)
    return finish_array(out, pixels, config.preserve_color, config.strength)


__all__ = [
    "Stylizer",
    "load_stylizer",
    "parse_style_weights",
    "resolve_model",
    "style_weight_vector",
    "stylize_array",
]
