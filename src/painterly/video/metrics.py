"""Measures of a stylized video: temporal flicker (warping error) and detail energy.

Used by the benchmark and the tests; both stream (one frame pair at a time).
"""

from __future__ import annotations

from typing import Iterable, Optional, Tuple

import numpy as np

from .flow import FlowEstimator, gray, visible, warp


class WarpingError:
    """The warping error of Lai et al. 2018, accumulated frame pair by frame pair.

    For each pair (t, t+1) the flows ``F: t -> t+1`` and ``B: t+1 -> t`` are
    computed on the *input* frames with DIS ``medium`` (stronger than the
    ``fast`` flow painterly paints with, so the metric is not the method's own
    yardstick); pixels failing the occlusion, motion-boundary or
    out-of-frame tests are left out, and
    ``E_t = mean_visible ||O_t - warp(O_{t+1}, F)||^2 / 3`` with RGB in [0, 1].
    :attr:`value` is the mean of ``E_t`` over the pairs.

    Args:
        preset: DIS preset of the metric's flow.
    """

    def __init__(self, preset: str = "medium") -> None:
        self.flow = FlowEstimator(preset)
        self.errors: list = []
        self._prev: Optional[Tuple[np.ndarray, np.ndarray]] = None

    def add(self, source: np.ndarray, output: np.ndarray) -> Optional[float]:
        """Add the next frame: ``source`` input and ``output`` stylized, uint8 (H, W, 3) of one size.

        Returns:
            The error of the pair ending at this frame, or None for the first frame.
        """
        if source.shape != output.shape:
            raise ValueError(f"input {source.shape} and output {output.shape} frames differ in size")
        g = gray(source)
        out = output.astype(np.float32) / 255.0
        prev, self._prev = self._prev, (g, out)
        if prev is None:
            return None
        g0, out0 = prev
        fwd, bwd = self.flow.pair(g0, g)
        mask = visible(fwd, bwd)
        if not mask.any():
            return None
        diff = out0 - warp(out, fwd)
        err = float(((diff ** 2).sum(-1) / 3.0)[mask].mean())
        self.errors.append(err)
        return err

    @property
    def value(self) -> float:
        """Mean warping error over the pairs so far (NaN before the second frame)."""
        return float(np.mean(self.errors)) if self.errors else float("nan")


def warping_error(pairs: Iterable[Tuple[np.ndarray, np.ndarray]], preset: str = "medium") -> float:
    """Warping error of a whole clip from ``(input frame, output frame)`` pairs (see :class:`WarpingError`)."""
    meter = WarpingError(preset)
    for source, output in pairs:
        meter.add(source, output)
    return meter.value


def detail_energy(pixels: np.ndarray, sigma: float = 1.5) -> float:
    """Mean squared high-pass of an image: ``mean (x - gauss_sigma(x))^2`` with x in [0, 1].

    Blur lowers it; the benchmark compares it between consistent and per-frame output.
    """
    import cv2

    x = pixels.astype(np.float32) / 255.0
    low = cv2.GaussianBlur(x, (0, 0), sigma)
    return float(((x - low) ** 2).mean())


__all__ = ["WarpingError", "detail_energy", "warping_error"]
