"""Colour preservation and blending on uint8 numpy images, in bounded memory, without torch.

The same maths as :func:`~painterly.imaging.color.combine_luminance` and
:func:`~painterly.imaging.color.match_histogram` (tested to agree with them),
for the feed-forward stylize path: it must run without torch (ONNX backend)
and on 24-megapixel photos, where the tensor versions would hold several
full-size float copies (float64 for the histogram covariance). Here images
are (H, W, 3) uint8 and the work goes in bands of ``rows`` rows, so the extra
memory is a few float32 bands whatever the image size.
"""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

import numpy as np

from painterly.errors import ImageError, UsageError, did_you_mean

# NTSC (FCC 1953) RGB -> YIQ; rows give Y, I, Q. The Y row sums to 1, so a gray pixel
# (v, v, v) has Y = v and I = Q = 0. The exact inverse rather than the rounded textbook
# one, so that a round trip is exact to float precision. painterly.imaging.color uses these too.
RGB_TO_YIQ = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ],
    dtype=np.float64,
)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)

#: Modes of :func:`match_histogram_array` and :func:`painterly.imaging.color.match_histogram`.
HISTOGRAM_MODES = ("pca", "chol", "sym")

#: Rows per band: 256 rows of a 6000 px wide image are 18 MB of float32 RGB.
BAND_ROWS = 256


def _check(image: np.ndarray, name: str) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageError(f"{name} must be a uint8 (H, W, 3) array, got {image.dtype} {image.shape}")


def _check_same(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ImageError(f"images differ in size: {a.shape[1]}x{a.shape[0]} and {b.shape[1]}x{b.shape[0]}")


def _bands(height: int, rows: int) -> Iterator[slice]:
    for y in range(0, height, max(1, rows)):
        yield slice(y, min(height, y + rows))


def _to_float(band: np.ndarray) -> np.ndarray:
    return band.astype(np.float32) * np.float32(1.0 / 255.0)


def _store(values: np.ndarray, out: np.ndarray) -> None:
    # Clamp and round half to even, like painterly.imaging.tensor_to_image.
    np.clip(values, 0.0, 1.0, out=values)
    values *= 255.0
    np.rint(values, out=values)
    out[...] = values


def _output(image: np.ndarray, out: Optional[np.ndarray]) -> np.ndarray:
    if out is None:
        return np.empty_like(image)
    if out.shape != image.shape or out.dtype != np.uint8:
        raise ImageError(f"out must be uint8 {image.shape}, got {out.dtype} {out.shape}")
    return out


def combine_luminance_array(
    luma_image: np.ndarray, color_image: np.ndarray, out: Optional[np.ndarray] = None, rows: int = BAND_ROWS
) -> np.ndarray:
    """Luma (Y) of ``luma_image`` with the chroma (I, Q) of ``color_image``.

    Args:
        luma_image: uint8 (H, W, 3), the stylized image.
        color_image: uint8 (H, W, 3), the photo whose colours are kept.
        out: optional uint8 (H, W, 3) result array (may be ``luma_image``).
        rows: band height.

    Returns:
        uint8 (H, W, 3) RGB, clamped.
    """
    _check(luma_image, "luma_image")
    _check(color_image, "color_image")
    _check_same(luma_image, color_image)
    result = _output(luma_image, out)
    y_row = RGB_TO_YIQ[0].astype(np.float32)
    iq_rows = RGB_TO_YIQ[1:].T.astype(np.float32)
    back = YIQ_TO_RGB.T.astype(np.float32)
    for band in _bands(luma_image.shape[0], rows):
        y = _to_float(luma_image[band]) @ y_row
        iq = _to_float(color_image[band]) @ iq_rows
        yiq = np.concatenate([y[..., None], iq], axis=-1)
        _store(yiq @ back, result[band])
    return result


def color_moments(image: np.ndarray, rows: int = BAND_ROWS) -> Tuple[np.ndarray, np.ndarray]:
    """Mean (3,) and covariance (3, 3) of the RGB values in [0, 1], float64, in bands."""
    _check(image, "image")
    total = np.zeros(3)
    outer = np.zeros((3, 3))
    count = 0
    for band in _bands(image.shape[0], rows):
        pixels = _to_float(image[band]).reshape(-1, 3).astype(np.float64)
        total += pixels.sum(axis=0)
        outer += pixels.T @ pixels
        count += pixels.shape[0]
    mean = total / max(count, 1)
    cov = outer / max(count, 1) - np.outer(mean, mean)
    return mean, (cov + cov.T) / 2


def _sqrtm(cov: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    vals, vecs = np.linalg.eigh(cov)
    vals = np.clip(vals, np.finfo(np.float64).tiny, None)
    return (vecs * np.sqrt(vals)) @ vecs.T, (vecs / np.sqrt(vals)) @ vecs.T


def _transform(cov_s: np.ndarray, cov_t: np.ndarray, mode: str) -> np.ndarray:
    """A with ``A cov_s A^T == cov_t`` (see painterly.imaging.color._color_transform)."""
    if mode == "chol":
        return np.linalg.cholesky(cov_t) @ np.linalg.inv(np.linalg.cholesky(cov_s))
    if mode == "pca":
        return _sqrtm(cov_t)[0] @ _sqrtm(cov_s)[1]
    root_s, inv_root_s = _sqrtm(cov_s)
    return inv_root_s @ _sqrtm(root_s @ cov_t @ root_s)[0] @ inv_root_s


def match_histogram_array(
    source: np.ndarray,
    target: np.ndarray,
    mode: str = "pca",
    eps: float = 1e-5,
    out: Optional[np.ndarray] = None,
    rows: int = BAND_ROWS,
) -> np.ndarray:
    """Recolour ``source`` so its colour mean and covariance equal ``target``'s.

    ``x -> A (x - mu_s) + mu_t`` as :func:`painterly.imaging.color.match_histogram`.

    Args:
        source: uint8 (H, W, 3), the stylized image.
        target: uint8 (H', W', 3), the photo (any size).
        mode: ``pca`` (default), ``chol`` or ``sym``.
        eps: added to both covariances' diagonals (flat images stay invertible).
        out: optional uint8 result array (may be ``source``).
        rows: band height.

    Returns:
        uint8 (H, W, 3), clamped.
    """
    if mode not in HISTOGRAM_MODES:
        raise UsageError(
            f"unknown colour matching mode {mode!r}; use one of {', '.join(HISTOGRAM_MODES)}"
            + did_you_mean(mode, HISTOGRAM_MODES)
        )
    _check(source, "source")
    _check(target, "target")
    mu_s, cov_s = color_moments(source, rows)
    mu_t, cov_t = color_moments(target, rows)
    eye = np.eye(3) * eps
    matrix = _transform(cov_s + eye, cov_t + eye, mode)
    shift = (mu_t - matrix @ mu_s).astype(np.float32)
    matrix_t = matrix.T.astype(np.float32)
    result = _output(source, out)
    for band in _bands(source.shape[0], rows):
        _store(_to_float(source[band]) @ matrix_t + shift, result[band])
    return result


def blend_array(
    image: np.ndarray, other: np.ndarray, amount: float, out: Optional[np.ndarray] = None, rows: int = BAND_ROWS
) -> np.ndarray:
    """``amount * image + (1 - amount) * other``, rounded; amount 1 gives ``image``, 0 ``other``.

    Args:
        image, other: uint8 (H, W, 3) of one size.
        amount: in [0, 1].
        out: optional uint8 result array (may be either input).
    """
    _check(image, "image")
    _check(other, "other")
    _check_same(image, other)
    if not 0.0 <= amount <= 1.0:
        raise UsageError(f"blend amount must be between 0 and 1, not {amount}")
    result = _output(image, out)
    a = np.float32(amount)
    for band in _bands(image.shape[0], rows):
        mixed = image[band].astype(np.float32) * a + other[band].astype(np.float32) * (np.float32(1) - a)
        np.rint(mixed, out=mixed)
        result[band] = mixed
    return result


def finish_array(out: np.ndarray, photo: np.ndarray, preserve_color: str, strength: float) -> np.ndarray:
    """The stylizers' last steps, in place on ``out``: colour preservation, then strength.

    Args:
        out: the stylized uint8 (H, W, 3), modified in place.
        photo: the input photo, uint8 (H, W, 3) of the same size.
        preserve_color: ``"luminance"`` keeps ``out``'s luma with the photo's
            colours, ``"histogram"`` recolours ``out`` to the photo's colour
            moments, anything else leaves the colours alone.
        strength: 1 keeps ``out``, 0 gives the photo, between them a blend.
    """
    if preserve_color == "luminance":
        combine_luminance_array(out, photo, out=out)
    elif preserve_color == "histogram":
        match_histogram_array(out, photo, out=out)
    if strength < 1:
        blend_array(out, photo, strength, out=out)
    return out


__all__ = [
    "HISTOGRAM_MODES",
    "blend_array",
    "finish_array",
    "color_moments",
    "combine_luminance_array",
    "match_histogram_array",
]
