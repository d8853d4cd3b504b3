"""Feature transforms at relu4_1, in numpy: AdaIN, EFDM and WCT (issue 17).

The decoder turns a relu4_1 feature map into a picture; what it is fed
decides how much of the painting's look arrives. Three ways of giving the
photo's features the painting's statistics, per channel or jointly:

* ``adain`` (Huang & Belongie 2017): each channel's mean and standard
  deviation (the decoder was trained on this);
* ``efdm`` (Zhang et al. 2022, "Exact Feature Distribution Matching"): each
  channel's whole distribution, by sorting. The photo's values keep their
  rank, and the k-th smallest becomes the style's k-th smallest (the style's
  sorted values resampled to the photo's number of positions by linear
  interpolation of the quantile function);
* ``wct`` (Li et al. 2017): whitening and colouring, the mean and the full
  512 x 512 covariance (correlations between channels too).

All three take and return (1, C, h, w) float32 arrays and are pure (never
modify their input). The style side is summarised once per style image by
:class:`StyleFeatures` and reused for every photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

#: Names of the transforms (``StylizeConfig.transform``).
TRANSFORMS = ("adain", "efdm", "wct")
#: AdaIN's variance epsilon.
EPS = 1e-5
#: Eigenvalues of a covariance below this fraction of the largest are dropped when
#: whitening or colouring (Li et al. drop those under 1e-5): relu4_1 maps have
#: dead channels, and inverting their near-zero variance would amplify noise.
WCT_RANK_TOL = 1e-5


def _flat(features: np.ndarray) -> np.ndarray:
    """(1, C, h, w) -> (C, h*w) float64."""
    if features.ndim != 4 or features.shape[0] != 1:
        raise ValueError(f"expected (1, C, h, w) features, got {features.shape}")
    return features.reshape(features.shape[1], -1).astype(np.float64)


def _sym_power(cov: np.ndarray, power: float) -> np.ndarray:
    """``cov ** power`` of a symmetric PSD matrix, over its eigenvalues above the rank tolerance."""
    values, vectors = np.linalg.eigh(cov)
    keep = values > max(float(values.max()), 0.0) * WCT_RANK_TOL
    v, e = values[keep], vectors[:, keep]
    return (e * v**power) @ e.T


@dataclass
class StyleFeatures:
    """A style image's relu4_1 features, summarised for each transform.

    Unpacks as ``mean, std`` (each (1, C, 1, 1) float32), like the AdaIN
    statistics it extends; :attr:`sorted` (EFDM) and :attr:`colouring` (WCT)
    are computed on first use.

    Args:
        features: (1, C, h, w) relu4_1 of the style image.
    """

    features: np.ndarray
    mean: np.ndarray = field(init=False)
    std: np.ndarray = field(init=False)
    _sorted: Optional[np.ndarray] = field(default=None, init=False, repr=False)
    _colouring: Optional[np.ndarray] = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        f = _flat(self.features)
        mean = f.mean(axis=1)
        var = ((f - mean[:, None]) ** 2).mean(axis=1)
        self.mean = mean.astype(np.float32)[None, :, None, None]
        self.std = np.sqrt(var + EPS).astype(np.float32)[None, :, None, None]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.mean, self.std))

    @property
    def sorted(self) -> np.ndarray:
        """(C, N) each channel's values in increasing order, float64."""
        if self._sorted is None:
            self._sorted = np.sort(_flat(self.features), axis=1)
        return self._sorted

    @property
    def colouring(self) -> np.ndarray:
        """(C, C) the square root of the channel covariance, float64."""
        if self._colouring is None:
            f = _flat(self.features)
            centred = f - f.mean(axis=1, keepdims=True)
            cov = centred @ centred.T / max(1, centred.shape[1] - 1)
            self._colouring = _sym_power(cov, 0.5)
        return self._colouring


def resample_sorted(values: np.ndarray, n: int) -> np.ndarray:
    """Sorted (C, M) values -> (C, n): the quantile function read at the n midpoints ``(k + 0.5) / n``.

    Equal to ``values`` when n == M.
    """
    m = values.shape[1]
    if m == n:
        return values
    pos = (np.arange(n, dtype=np.float64) + 0.5) * (m / n) - 0.5
    pos = np.clip(pos, 0.0, m - 1.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, m - 1)
    t = pos - lo
    return values[:, lo] * (1.0 - t) + values[:, hi] * t


def _box3(x: np.ndarray) -> np.ndarray:
    """3 x 3 box mean over the last two axes (edges repeated)."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = x.shape[-2:]
    return sum(p[:, i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0


def efdm(content: np.ndarray, style: StyleFeatures) -> np.ndarray:
    """Exact feature distribution matching: (1, C, h, w) -> (1, C, h, w) float32.

    Each output channel holds exactly the style's (resampled) sorted values,
    placed in the photo's rank order. Ties (relu4_1 is about half zeros) are
    broken by the 3 x 3 neighbourhood mean, so a tied area receives values
    that vary smoothly with its surroundings instead of in raster order.
    """
    c, h, w = content.shape[1:]
    f = content[0].astype(np.float64)
    tie = _box3(f).reshape(c, -1)
    flat = f.reshape(c, -1)
    order = np.empty_like(flat, dtype=np.int64)
    for ch in range(c):
        order[ch] = np.lexsort((tie[ch], flat[ch]))
    target = resample_sorted(style.sorted, h * w)
    out = np.empty_like(flat)
    np.put_along_axis(out, order, target, axis=1)
    return out.reshape(1, c, h, w).astype(np.float32)


def wct(content: np.ndarray, style: StyleFeatures) -> np.ndarray:
    """Whitening and colouring: (1, C, h, w) -> (1, C, h, w) float32 with the style's mean and covariance.

    The photo's centred features are whitened by the inverse square root of
    their covariance and coloured by the square root of the style's.
    """
    c, h, w = content.shape[1:]
    f = _flat(content)
    mean = f.mean(axis=1, keepdims=True)
    centred = f - mean
    cov = centred @ centred.T / max(1, centred.shape[1] - 1)
    whitened = _sym_power(cov, -0.5) @ centred
    out = style.colouring @ whitened + style.mean.reshape(c, 1).astype(np.float64)
    return out.reshape(1, c, h, w).astype(np.float32)


def transform_features(content: np.ndarray, style: StyleFeatures, transform: str) -> np.ndarray:
    """The decoder's input for one style by ``transform`` (``efdm`` or ``wct``; AdaIN is in the runtime)."""
    if transform == "efdm":
        return efdm(content, style)
    if transform == "wct":
        return wct(content, style)
    raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}, not '{transform}'")


__all__ = ["TRANSFORMS", "StyleFeatures", "efdm", "resample_sorted", "transform_features", "wct"]
