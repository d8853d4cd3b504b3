"""Tiled inference: run a feed-forward network on an image of any size in bounded memory.

Backend-agnostic and torch-free: everything here works on numpy arrays and
calls ``fn(tile)`` once per tile, so the torch runner and the onnxruntime
runner share it (and give the same result up to float rounding).

How tiles are made seamless:

* Tiles overlap by at least ``overlap`` px and are blended with cosine
  (Hann) ramps across each overlap: the two weights are ``sin^2`` and
  ``cos^2`` of the same angle, so they sum to 1 and the blend has no kink.
  Image borders get no ramp.
* Tile origins are multiples of ``align`` (the network's total stride, 4 for
  the Johnson net), so a tile's strided convolutions sample the same grid as
  the whole image's would and tiles agree wherever their border effects
  have faded.
* Instance normalization makes each tile's output depend on the tile's own
  feature statistics (a sky tile would be normalized differently from a
  street tile, giving blotches of different contrast). The runners therefore
  compute the statistics once on the whole image, downscaled, and pass the
  same statistics to every tile (``fn`` closes over them; see
  :func:`painterly.fast.stylize.stylize_array`).

Memory: the input and output are uint8 (H, W, 3) arrays (3 bytes/pixel); the
only float buffers are one tile and one band of tile rows (tile height x
image width), flushed to the uint8 output as soon as no later tile row
touches it. A 6000 x 4000 photo with 1024 px tiles needs ~72 MB for each
uint8 image and ~100 MB for the band.
"""

from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import PainterlyError

#: ``fn(tile) -> stylized``: float32 (1, 3, h, w) RGB in [0, 1] -> the same shape.
TileFn = Callable[[np.ndarray], np.ndarray]

#: ``progress(done, total)`` after each tile.
TileProgress = Callable[[int, int], None]

Span = Tuple[int, int]


def tile_spans(length: int, tile: int, overlap: int, align: int = 1) -> List[Span]:
    """Cut ``[0, length)`` into overlapping spans of at most ``tile`` px.

    The fewest spans whose neighbours overlap by at least ``overlap`` px,
    spread evenly, with every start a multiple of ``align``.

    Args:
        length: pixels along the axis, >= 1.
        tile: longest span, > ``2 * overlap`` and >= ``align``; 0 gives one span.
        overlap: least overlap of neighbouring spans in px, >= 0.
        align: span starts are multiples of this (the network's total stride).

    Returns:
        ``[(start, stop), ...]`` sorted, covering ``[0, length)``, each
        ``stop - start <= max(tile, length)``.
    """
    if tile <= 0 or length <= tile:
        return [(0, length)]
    align = max(1, int(align))
    if tile - overlap < align:
        raise ValueError(f"tile {tile} px minus overlap {overlap} px must be at least align {align} px")
    n = 2 + max(0, math.ceil((length - tile - (tile - overlap)) / (tile - overlap)))
    while True:
        last = length - tile
        # Interior starts round down to the grid; the last rounds up so its
        # tile still ends at the border without growing past ``tile``.
        starts = [int(round(i * last / (n - 1))) // align * align for i in range(n - 1)]
        starts.append(-(-last // align) * align)
        spans = [(s, min(length, s + tile)) for s in starts]
        if all(spans[i][1] - spans[i + 1][0] >= overlap for i in range(n - 1)):
            return spans
        n += 1  # rounding to the grid ate some overlap: use one more span


def cosine_ramp(n: int) -> np.ndarray:
    """Weights rising from ~0 to ~1 over ``n`` px: ``sin^2`` at pixel centres.

    ``cosine_ramp(n) + cosine_ramp(n)[::-1] == 1``, so two tiles meeting
    across an overlap of ``n`` px blend with weights that sum to one.
    """
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return (np.sin(0.5 * np.pi * t) ** 2).astype(np.float32)


def span_weights(spans: Sequence[Span], index: int) -> np.ndarray:
    """Blending weights along one axis for span ``index`` of ``spans``.

    1 in the middle, a cosine ramp over the overlap with each neighbour, no
    ramp at the image border.
    """
    start, stop = spans[index]
    w = np.ones(stop - start, dtype=np.float32)
    if index > 0:
        n = min(spans[index - 1][1] - start, stop - start)
        if n > 0:
            w[:n] *= cosine_ramp(n)
    if index + 1 < len(spans):
        n = min(stop - spans[index + 1][0], stop - start)
        if n > 0:
            w[stop - start - n:] *= cosine_ramp(n)[::-1]
    return w


def to_batch(pixels: np.ndarray) -> np.ndarray:
    """uint8 (h, w, 3) -> float32 (1, 3, h, w) in [0, 1]."""
    out = np.empty((1, 3) + pixels.shape[:2], dtype=np.float32)
    np.divide(pixels.transpose(2, 0, 1), 255.0, out=out[0], casting="unsafe")
    return out


def to_uint8(values: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Float (..., 3) in [0, 1] -> uint8, clamped and rounded like :func:`painterly.imaging.tensor_to_image`."""
    values = np.nan_to_num(values, nan=0.0, copy=False)
    scaled = np.clip(values, 0.0, 1.0) * 255.0
    np.rint(scaled, out=scaled)
    if out is None:
        return scaled.astype(np.uint8)
    out[...] = scaled
    return out


def _call(fn: TileFn, pixels: np.ndarray) -> np.ndarray:
    """Run ``fn`` on a uint8 (h, w, 3) tile; float32 (h, w, 3) result."""
    h, w = pixels.shape[:2]
    result = np.asarray(fn(to_batch(pixels)))
    if result.shape != (1, 3, h, w):
        raise PainterlyError(
            f"the model returned shape {tuple(result.shape)} for a (1, 3, {h}, {w}) input; "
            "a style network must keep the image size"
        )
    return result[0].transpose(1, 2, 0)


def count_tiles(height: int, width: int, tile_size: int, overlap: int, align: int = 1) -> int:
    """How many calls :func:`stylize_tiled` makes for an image of this size."""
    return len(tile_spans(height, tile_size, overlap, align)) * len(tile_spans(width, tile_size, overlap, align))


def stylize_tiled(
    image: np.ndarray,
    fn: TileFn,
    tile_size: int = 1024,
    overlap: int = 64,
    *,
    align: int = 4,
    out: Optional[np.ndarray] = None,
    progress: Optional[TileProgress] = None,
) -> np.ndarray:
    """Apply ``fn`` to ``image`` tile by tile and blend the tiles seamlessly.

    Args:
        image: uint8 (H, W, 3) RGB.
        fn: the network on one tile: float32 (1, 3, h, w) in [0, 1] -> same
            shape in [0, 1]. Called with tiles of at most ``tile_size`` px per
            side, row by row; an image no larger than that is one call.
        tile_size: longest tile side in px; 0 runs the whole image at once.
        overlap: least overlap of neighbouring tiles in px (blend width).
        align: tile origins are multiples of this many px.
        out: optional uint8 (H, W, 3) array to write into (may not be ``image``).
        progress: called as ``progress(done, total)`` after each tile.

    Returns:
        uint8 (H, W, 3): ``out`` if given, else a new array.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    if out is None:
        out = np.empty_like(image)
    rows = tile_spans(height, tile_size, overlap, align)
    cols = tile_spans(width, tile_size, overlap, align)
    total, done = len(rows) * len(cols), 0
    if total == 1:
        to_uint8(_call(fn, image), out=out)
        if progress is not None:
            progress(1, 1)
        return out

    col_weights = [span_weights(cols, j) for j in range(len(cols))]
    band: Optional[np.ndarray] = None  # weighted sums for rows [band_y0, ...)
    band_w: Optional[np.ndarray] = None  # sums of weights, (rows, W, 1)
    band_y0 = 0
    for i, (y0, y1) in enumerate(rows):
        new = np.zeros((y1 - y0, width, 3), dtype=np.float32)
        new_w = np.zeros((y1 - y0, width, 1), dtype=np.float32)
        if band is not None and band_w is not None:
            keep = band_y0 + band.shape[0] - y0  # rows the previous band shares with this one
            if keep > 0:
                new[:keep] = band[y0 - band_y0:]
                new_w[:keep] = band_w[y0 - band_y0:]
        row_weight = span_weights(rows, i)[:, None, None]
        for j, (x0, x1) in enumerate(cols):
            styled = _call(fn, image[y0:y1, x0:x1])
            weight = row_weight * col_weights[j][None, :, None]
            new[:, x0:x1] += styled * weight
            new_w[:, x0:x1] += weight
            done += 1
            if progress is not None:
                progress(done, total)
        # Rows above the next tile row's start get no more contributions.
        final = (rows[i + 1][0] if i + 1 < len(rows) else y1) - y0
        if final > 0:
            to_uint8(new[:final] / np.maximum(new_w[:final], 1e-12), out=out[y0:y0 + final])
        band, band_w, band_y0 = new, new_w, y0
    return out


__all__ = [
    "TileFn",
    "cosine_ramp",
    "count_tiles",
    "span_weights",
    "stylize_tiled",
    "tile_spans",
    "to_batch",
    "to_uint8",
]
