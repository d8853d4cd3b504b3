"""Optical flow between input frames, warping, and where a warp can be trusted.

Flow is computed on the *input* frames (photos move coherently; stylized
frames boil) with OpenCV's DIS (Kroeger et al. 2016), a few milliseconds per
640x360 frame on one CPU core. Conventions: a flow field is float32
(H, W, 2) in pixels, ``flow[y, x] = (dx, dy)``; the flow *from* frame A *to*
frame B says where pixel x of A is found in B, so ``warp(B, flow_ab)`` brings
B into A's geometry.

The trust tests follow Ruder et al. 2016 (artistic videos), which Lai et al.
2018 reuse for their warping-error metric:

* forward-backward: x is occluded when ``|F(x) + B(x + F(x))|^2 > 0.01 (|F|^2 + |B|^2) + 0.5``;
* motion boundary: ``|grad F_u|^2 + |grad F_v|^2 > 0.01 |F|^2 + 0.002``;
* x + F(x) outside the frame.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ..errors import require

#: DIS presets by name, fastest first (painterly paints with ``medium``, the metrics use it too).
PRESETS = ("ultrafast", "fast", "medium")


def _cv2() -> object:
    return require("cv2", "video")


def gray(pixels: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> uint8 (H, W) luma, the input of the flow."""
    cv2 = _cv2()
    return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)  # type: ignore[attr-defined]


class FlowEstimator:
    """DIS optical flow, created once per video (it keeps buffers between calls).

    Args:
        preset: one of :data:`PRESETS` (slower ones make fewer errors on
            fine and large motion).
        max_side: compute the flow on frames shrunk to this long side in px
            (0: full size) and scale it back up; flow is smooth, so half size
            loses little and costs a quarter.
    """

    def __init__(self, preset: str = "fast", max_side: int = 0) -> None:
        cv2 = _cv2()
        ids = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,  # type: ignore[attr-defined]
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,  # type: ignore[attr-defined]
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,  # type: ignore[attr-defined]
        }
        self.preset = preset
        self.max_side = max_side
        self._dis = cv2.DISOpticalFlow_create(ids[preset])  # type: ignore[attr-defined]

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow from ``source`` to ``target`` (uint8 (H, W) luma each): float32 (H, W, 2) px."""
        h, w = source.shape[:2]
        if not self.max_side or max(h, w) <= self.max_side:
            return self._dis.calc(source, target, None)
        cv2 = _cv2()
        s = self.max_side / max(h, w)
        size = (max(8, round(w * s)), max(8, round(h * s)))
        small = [cv2.resize(a, size, interpolation=cv2.INTER_AREA) for a in (source, target)]  # type: ignore[attr-defined]
        flow = self._dis.calc(small[0], small[1], None)
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)  # type: ignore[attr-defined]
        flow[..., 0] *= w / size[0]
        flow[..., 1] *= h / size[1]
        return flow

    def pair(self, a: np.ndarray, b: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Flows ``a -> b`` and ``b -> a``."""
        return self(a, b), self(b, a)


def sample_grid(flow: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Absolute sampling coordinates ``x + flow`` as two float32 (H, W) maps."""
    h, w = flow.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + flow[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + flow[..., 1]
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray, *, mode: str = "linear") -> np.ndarray:
    """Bring ``image`` into the geometry of the flow's source frame: ``out[x] = image[x + flow(x)]``.

    Args:
        image: (H, W) or (H, W, C) array, uint8 or float32.
        flow: float32 (H, W, 2) from the wanted frame to ``image``'s frame.
        mode: ``linear``, ``cubic``, ``clamped`` or ``lanczos``. Each resampling softens the finest texture a little
            (bilinear most); a result warped again and again keeps its brush
            detail with Lanczos or ``clamped``: bicubic limited to the range
            of the four pixels around each sampling point, so that its
            overshoot (ringing) cannot compound from frame to frame, at a
            third of Lanczos' cost.

    Returns:
        Same shape and dtype as ``image``; points outside are filled from the border.
    """
    cv2 = _cv2()
    xs, ys = sample_grid(flow)
    modes = {
        "linear": cv2.INTER_LINEAR,  # type: ignore[attr-defined]
        "cubic": cv2.INTER_CUBIC,  # type: ignore[attr-defined]
        "clamped": cv2.INTER_CUBIC,  # type: ignore[attr-defined]
        "lanczos": cv2.INTER_LANCZOS4,  # type: ignore[attr-defined]
    }
    maps = cv2.convertMaps(xs, ys, cv2.CV_16SC2)  # type: ignore[attr-defined]  # fixed point: faster, same result
    out = cv2.remap(image, maps[0], maps[1], modes[mode], borderMode=cv2.BORDER_REPLICATE)  # type: ignore[attr-defined]
    if mode != "clamped":
        return out
    # The 2x2 neighbourhood of a sampling point (x, y) starts at (floor x, floor y):
    # nearest sampling at (x - 1/2, y - 1/2) picks it from the 2x2 min and max images.
    box = np.ones((2, 2), np.uint8)
    corner = cv2.convertMaps(xs - 0.5, ys - 0.5, cv2.CV_16SC2, nninterpolation=True)  # type: ignore[attr-defined]
    nearest = dict(interpolation=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[attr-defined]
    low = cv2.remap(cv2.erode(image, box, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE), *corner, **nearest)  # type: ignore[attr-defined]
    high = cv2.remap(cv2.dilate(image, box, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE), *corner, **nearest)  # type: ignore[attr-defined]
    return np.minimum(np.maximum(out, low, out=out), high, out=out)


def inside(flow: np.ndarray) -> np.ndarray:
    """bool (H, W): ``x + flow(x)`` lands inside the frame."""
    h, w = flow.shape[:2]
    xs, ys = sample_grid(flow)
    return (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)


def consistent(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """bool (H, W) in frame A: the forward-backward check passes (not occluded in B)."""
    back = warp(flow_ba, flow_ab)
    total = flow_ab + back
    lhs = (total ** 2).sum(-1)
    rhs = 0.01 * ((flow_ab ** 2).sum(-1) + (back ** 2).sum(-1)) + 0.5
    return lhs <= rhs


def motion_boundary(flow: np.ndarray) -> np.ndarray:
    """bool (H, W): ``|grad u|^2 + |grad v|^2 > 0.01 |flow|^2 + 0.002`` (Ruder et al.'s test)."""
    cv2 = _cv2()
    # Central differences [-1, 0, 1] / 2 of both channels at once (np.gradient's inside the frame).
    half = np.float32(0.5)
    dx = cv2.filter2D(flow, -1, np.array([[-half, 0, half]], np.float32), borderType=cv2.BORDER_REPLICATE)  # type: ignore[attr-defined]
    dy = cv2.filter2D(flow, -1, np.array([[-half], [0], [half]], np.float32), borderType=cv2.BORDER_REPLICATE)  # type: ignore[attr-defined]
    ones = np.ones((1, 2), np.float32)
    grad = cv2.transform(dx * dx, ones) + cv2.transform(dy * dy, ones)  # type: ignore[attr-defined]
    bound = cv2.transform(flow * flow, np.full((1, 2), 0.01, np.float32))  # type: ignore[attr-defined]
    bound += 0.002
    return grad > bound


def visible(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """bool (H, W) in frame A: where ``warp(B, flow_ab)`` can be trusted (all three tests)."""
    return inside(flow_ab) & consistent(flow_ab, flow_ba) & ~motion_boundary(flow_ab)


__all__ = [
    "PRESETS",
    "FlowEstimator",
    "consistent",
    "gray",
    "inside",
    "motion_boundary",
    "sample_grid",
    "visible",
    "warp",
]
