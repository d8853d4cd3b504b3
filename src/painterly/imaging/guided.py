"""Edge-aware guided upsampling (after He, Sun & Tang 2010; He & Sun 2015), numpy and Pillow only.

A stylization ``p`` made at a working resolution (``h x w``) is brought to
the photo's full resolution (``H x W``). In every small window of the
low-resolution images, the guided filter with a colour guide (section 3.5 of
He et al. 2010) fits a local affine colour model of ``p`` on the photo ``I``::

    p(x) ~ A(x) I(x) + b(x)        A: 3 x 3 per pixel, b: 3

``A`` is the local gain from photo colours to painting colours. It is
fitted at low resolution, averaged over the windows, and upsampled
bilinearly, then (mode ``"detail"``, the default)::

    q = up(p) + up(A) (I - up(I_low))

the working-resolution result, upsampled, plus the photo's detail finer
than a working-resolution pixel, carried into the painting's colours by the
local gain. Where painting and photo are locally correlated (edges,
silhouettes) the output gets the photo's sharpness; where they are not
(flat sky painted with strokes) ``A`` is small (``eps`` sets how much
correlation is needed) and the output is the upsampled painting. Mode
``"filter"`` is He & Sun's fast guided filter, ``q = up(A) I + up(b)``: the
output is a local affine function of the photo, which also smooths away
the brush strokes that the photo does not have (measured in
``benchmarks/adain_highres.py``: sharper than bicubic, but it changes the
working-resolution picture about 3x more than ``"detail"`` does).

Memory: the coefficients are 15 float32 planes at low resolution; the
full-resolution pass runs in bands of rows (Pillow resizes each plane's
band, in C), so its extra memory is 15 float32 bands per thread: about
50 MB a thread for a 6000 px wide photo, on top of its uint8 input and output.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from painterly.errors import ImageError, UsageError

#: Window radius in low-resolution pixels (3 x 3 windows): the gain follows the image closely.
DEFAULT_RADIUS = 1
#: Regularization of ``A`` in [0, 1]^2 colour units: below the photo's local
#: variance (about 1e-3 on textured areas) detail transfers, above it the
#: output falls back to the smooth upsampled colour.
DEFAULT_EPS = 1e-4
#: Output rows per band of the full-resolution pass.
BAND_ROWS = 128
#: Modes of :func:`guided_upsample` (see there).
GUIDED_MODES = ("detail", "filter")


def _in_parallel(jobs: Sequence[Callable[[], None]], threads: int) -> None:
    """Run independent jobs on up to ``threads`` threads (numpy and Pillow release the GIL)."""
    if threads <= 1 or len(jobs) <= 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(min(threads, len(jobs)), thread_name_prefix="painterly-guided") as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def box_mean(x: np.ndarray, radius: int, axes: Tuple[int, int] = (0, 1), threads: int = 1) -> np.ndarray:
    """Mean over ``(2r+1) x (2r+1)`` windows, windows clipped at the borders.

    Args:
        x: float (H, W, ...) array (or any layout, with ``axes`` its height and width axes).
        radius: r >= 0 (small: the cost grows with r; this module uses 1).
        axes: the two axes to filter along.
        threads: split the other axes' planes over this many threads (``axes``
            must then be ``(1, 2)`` of a (K, H, W) stack; otherwise one thread).

    Returns:
        float32 array of ``x``'s shape (each pixel: the mean of the window
        part inside the image, as He et al.'s ``boxfilter / N``). Sums of
        shifted slices, so exact up to float32 rounding of a few additions.
    """
    if radius < 0:
        raise UsageError(f"radius must be >= 0, not {radius}")
    src = np.asarray(x)
    out = np.empty(src.shape, dtype=np.float32)
    if threads > 1 and src.ndim == 3 and tuple(axes) == (1, 2) and src.shape[0] > 1:
        bounds = np.linspace(0, src.shape[0], min(threads, src.shape[0]) + 1).astype(int)
        jobs = [lambda a=a, b=b: _box_mean_into(src[a:b], radius, axes, out[a:b]) for a, b in zip(bounds, bounds[1:])]
        _in_parallel(jobs, threads)
    else:
        _box_mean_into(src, radius, axes, out)
    return out


def _box_mean_into(x: np.ndarray, radius: int, axes: Tuple[int, int], out: np.ndarray) -> None:
    """:func:`box_mean` of ``x`` written into ``out`` (float32, ``x``'s shape)."""
    current = x
    weight = np.ones((1,) * x.ndim, dtype=np.float32)
    for k, axis in enumerate(axes):
        n = x.shape[axis]
        # The first axis sums into a fresh buffer, the second into ``out``; window
        # sizes are divided once at the end (one pass instead of one per axis).
        acc = out if k == len(axes) - 1 else np.empty(x.shape, dtype=np.float32)
        acc[...] = current
        for d in range(1, min(radius, n - 1) + 1):
            lo = [slice(None)] * x.ndim
            hi = [slice(None)] * x.ndim
            lo[axis], hi[axis] = slice(d, None), slice(None, n - d)
            acc[tuple(lo)] += current[tuple(hi)]  # each pixel gets its neighbour d before it
            acc[tuple(hi)] += current[tuple(lo)]  # ... and d after it
        idx = np.arange(n)
        count = (np.minimum(idx + radius, n - 1) - np.maximum(idx - radius, 0) + 1).astype(np.float32)
        shape = [1] * x.ndim
        shape[axis] = n
        weight = weight * (np.float32(1.0) / count).reshape(shape)
        current = acc
    if current is not out:  # no axes
        out[...] = current
    out *= weight


def guided_coefficients(
    guide: np.ndarray, source: np.ndarray, radius: int = DEFAULT_RADIUS, eps: float = DEFAULT_EPS, threads: int = 1
) -> Tuple[np.ndarray, np.ndarray]:
    """Window-averaged local affine models ``source ~ A guide + b`` (colour guided filter).

    Args:
        guide: float (h, w, 3) in [0, 1], the photo at low resolution.
        source: float (h, w, C), the image to transfer (the stylized result).
        radius: window radius in pixels.
        eps: regularization (larger: smoother, less detail).
        threads: CPU threads for the box filters.

    Returns:
        ``(A, b)``: float32 (h, w, C, 3) and (h, w, C), already averaged over
        the windows, so ``(A @ guide + b)`` is the guided filter's output.
    """
    if guide.ndim != 3 or guide.shape[2] != 3 or source.ndim != 3 or source.shape[:2] != guide.shape[:2]:
        raise ImageError(
            f"guide must be (h, w, 3) and source (h, w, C) of the same size, got {guide.shape} and {source.shape}"
        )
    if not eps > 0:
        raise UsageError(f"eps must be > 0, not {eps}")
    h, w = guide.shape[:2]
    c = source.shape[2]
    # Channel-first planes: every step below is an elementwise operation on contiguous
    # (h, w) arrays (3 x 3 inverses and products written out), several times faster
    # than batched einsum over (h, w, 3, 3) blocks.
    g = np.ascontiguousarray(guide.transpose(2, 0, 1), dtype=np.float32)
    p = np.ascontiguousarray(source.transpose(2, 0, 1), dtype=np.float32)
    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    # One box filter over all first and second moments at once (21 planes for RGB).
    stacked = np.concatenate([g, p, np.stack([g[i] * g[j] for i, j in pairs]), (p[:, None] * g[None]).reshape(3 * c, h, w)])
    means = box_mean(stacked, radius, axes=(1, 2), threads=threads)
    mean_g, mean_p = means[:3], means[3 : 3 + c]
    var = {pair: means[3 + c + k] - mean_g[pair[0]] * mean_g[pair[1]] for k, pair in enumerate(pairs)}
    for i in range(3):
        var[(i, i)] = var[(i, i)] + np.float32(eps)
    inv = _inverse_sym3_planes(var)
    cov = means[9 + c :].reshape(c, 3, h, w) - mean_p[:, None] * mean_g[None]  # cov(p_c, g_j)
    coef = np.empty((4 * c, h, w), dtype=np.float32)  # A (c x 3 row-major), then b
    for k in range(c):
        bk = mean_p[k].copy()
        for i in range(3):
            a = cov[k, 0] * inv[0][i] + cov[k, 1] * inv[1][i] + cov[k, 2] * inv[2][i]
            coef[3 * k + i] = a
            bk -= a * mean_g[i]
        coef[3 * c + k] = bk
    averaged = box_mean(coef, radius, axes=(1, 2), threads=threads).transpose(1, 2, 0)
    return averaged[..., : 3 * c].reshape(h, w, c, 3), averaged[..., 3 * c :]


def _inverse_sym3_planes(m: dict) -> list:
    """Inverse of a symmetric 3 x 3 matrix of planes ``m[(i, j)]`` (i <= j), as rows of planes."""
    a, b, c = m[(0, 0)], m[(0, 1)], m[(0, 2)]
    d, e, f = m[(1, 1)], m[(1, 2)], m[(2, 2)]
    c00 = d * f - e * e
    c01 = c * e - b * f
    c02 = b * e - c * d
    c11 = a * f - c * c
    c12 = b * c - a * e
    c22 = a * d - b * b
    r = np.float32(1.0) / (a * c00 + b * c01 + c * c02)
    c00, c01, c02, c11, c12, c22 = (x * r for x in (c00, c01, c02, c11, c12, c22))
    return [[c00, c01, c02], [c01, c11, c12], [c02, c12, c22]]


def guided_upsample(
    low_output: np.ndarray,
    low_guide: np.ndarray,
    guide: np.ndarray,
    radius: int = DEFAULT_RADIUS,
    eps: float = DEFAULT_EPS,
    out: Optional[np.ndarray] = None,
    rows: int = BAND_ROWS,
    mode: str = "detail",
    threads: int = 1,
) -> np.ndarray:
    """Upsample ``low_output`` to ``guide``'s size, restoring the guide's detail (module docstring).

    Args:
        low_output: float32 (h, w, 3) in [0, 1], the result at working resolution.
        low_guide: float32 (h, w, 3) in [0, 1], the photo as the network saw it.
        guide: uint8 (H, W, 3), the full-resolution photo (H >= h, W >= w).
        radius, eps: see :func:`guided_coefficients`.
        out: optional uint8 (H, W, 3) result array.
        rows: band height of the full-resolution pass.
        mode: ``"detail"`` (default): the upsampled result plus the photo's
            detail through the local gain, ``up(p) + up(A) (I - up(I_low))``;
            ``"filter"``: the fast guided filter, ``up(A) I + up(b)``.
        threads: CPU threads (bands of rows in parallel; each thread holds
            its own band buffers).

    Returns:
        uint8 (H, W, 3), clamped and rounded.
    """
    if mode not in GUIDED_MODES:
        raise UsageError(f"unknown guided upsampling mode {mode!r}; use one of {', '.join(GUIDED_MODES)}")
    if guide.ndim != 3 or guide.shape[2] != 3 or guide.dtype != np.uint8:
        raise ImageError(f"guide must be a uint8 (H, W, 3) image, got {guide.dtype} {guide.shape}")
    if low_output.shape != low_guide.shape:
        raise ImageError(f"low_output {low_output.shape} and low_guide {low_guide.shape} differ in size")
    height, width = guide.shape[:2]
    h, w = low_output.shape[:2]
    if out is None:
        out = np.empty((height, width, 3), dtype=np.uint8)
    a, b = guided_coefficients(low_guide, low_output, radius, eps, threads)
    # Channels first (K, h, w), so every plane below is a contiguous (rows, W) array:
    # A's 9 entries, then up(p) and up(I_low) (detail) or b (filter).
    extra = [low_output, low_guide] if mode == "detail" else [b]
    coef = np.ascontiguousarray(np.concatenate([a.reshape(h, w, 9), *extra], axis=2).transpose(2, 0, 1), dtype=np.float32)
    from PIL import Image

    planes = [Image.fromarray(plane, mode="F") for plane in coef]
    scale = np.float32(1.0 / 255.0)
    sy = h / height

    def paint_band(y0: int, y1: int) -> None:
        # Pillow's bilinear resize of the band's source rows (in C; the same half-pixel
        # centres as a whole-image resize, reading neighbours outside the box).
        box = (0.0, y0 * sy, float(w), y1 * sy)
        band = np.stack([np.asarray(p.resize((width, y1 - y0), Image.Resampling.BILINEAR, box=box)) for p in planes])
        photo = guide[y0:y1].transpose(2, 0, 1).astype(np.float32) * scale  # 3, r, W
        if mode == "detail":
            photo -= band[12:15]  # the photo's detail finer than the working size
        q = band[9:12].copy()  # up(p) (detail) or up(b) (filter)
        for c in range(3):
            for i in range(3):
                q[c] += band[3 * c + i] * photo[i]
        np.clip(q, 0.0, 1.0, out=q)
        q *= 255.0
        np.rint(q, out=q)
        out[y0:y1] = q.transpose(1, 2, 0)

    step = max(1, rows)
    # Bands write disjoint rows of ``out``, so they may run in any order on any thread.
    _in_parallel([lambda y0=y0: paint_band(y0, min(height, y0 + step)) for y0 in range(0, height, step)], threads)
    return out


__all__ = [
    "BAND_ROWS", "DEFAULT_EPS", "DEFAULT_RADIUS", "GUIDED_MODES", "box_mean", "guided_coefficients", "guided_upsample",
]
