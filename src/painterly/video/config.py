"""Settings of ``painterly video``: one frozen dataclass, the single source of defaults.

The CLI builds its options from :class:`VideoConfig` (field ``flow_size`` ->
``--flow-size``) exactly as it does for the image configs; the painting
itself is configured by :class:`~painterly.config.StylizeConfig` or
:class:`~painterly.config.TransferConfig`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from ..config import _check_choice, _opt
from ..errors import ConfigError

#: Temporal consistency modes: ``flow`` (warp and blend the previous frame) or ``none`` (per frame).
CONSISTENCY_MODES = ("flow", "none")
#: DIS optical-flow presets, fastest first.
FLOW_PRESETS = ("ultrafast", "fast", "medium")


@dataclass(frozen=True)
class VideoConfig:
    """How a video is read, made consistent over time and written.

    Defaults were chosen on the benchmark (``benchmarks/video_consistency.py``):
    at ``blend`` 0.85 and ``detail`` 1.4 the flicker (warping error) of a
    trained model's output falls to about a quarter of per-frame painting
    while the brush detail stays within 10% of it.
    """

    consistency: str = _opt(
        "flow", "flow: blend each frame with the previous output moved by optical flow (no flicker); "
        "none: paint every frame on its own", choices=CONSISTENCY_MODES,
    )
    blend: float = _opt(
        0.9, "weight of the previous output's colours where the motion is trusted (0..0.98; higher is steadier)"
    )
    detail_blend: float = _opt(
        0.95, "the same for the texture (brush strokes, finer than about 16 px): higher keeps strokes in place longer"
    )
    detail: float = _opt(
        1.5, "most the blended texture's contrast is boosted back to the current painting's (1: never; "
        "keeps the blend from drifting into blur)"
    )
    flow: str = _opt("medium", "optical-flow quality (DIS preset): ultrafast, fast or medium", choices=FLOW_PRESETS)
    flow_size: int = _opt(640, "compute the flow at most at this long side in px (0: full size)")
    flow_check: bool = _opt(
        False, "also compute the forward flow and distrust pixels failing the forward-backward occlusion test "
        "(twice the flow time; without it occlusions are caught by the photometric error, which measured as steady)"
    )
    size: int = _opt(0, "long side of the output frames in px; 0 keeps the input size")
    start: float = _opt(0.0, "start this many seconds into the input")
    duration: float = _opt(0.0, "paint only this many seconds (0: to the end)")
    fps: float = _opt(0.0, "resample to this frame rate (0: keep every frame and its timestamp)")
    crf: int = _opt(0, "H.264/VP9 quality, lower is better and larger (0: 18 for H.264, 31 for VP9)")
    audio: bool = _opt(True, "copy the audio track (packet for packet where the output container allows it)")
    warm_iterations: int = _opt(
        0, "--transfer: optimizer iterations of each frame after the first, which starts from the previous "
        "result moved by the flow (0: a third of the first frame's)"
    )
    resume: bool = _opt(False, "continue an interrupted run from its last finished frame")

    def __post_init__(self) -> None:
        _check_choice("consistency", self.consistency, CONSISTENCY_MODES)
        _check_choice("flow", self.flow, FLOW_PRESETS)
        for name, low, high in (("blend", 0.0, 0.98), ("detail_blend", 0.0, 0.99), ("detail", 1.0, 4.0)):
            value = getattr(self, name)
            if not (low <= value <= high):
                raise ConfigError(f"{name} must be between {low:g} and {high:g}, not {value}", field=name, value=value)
        if self.flow_size != 0 and not 32 <= self.flow_size <= 8192:
            raise ConfigError(f"flow_size must be 0 (full size) or between 32 and 8192 px, not {self.flow_size}")
        if self.size != 0 and not 16 <= self.size <= 16384:
            raise ConfigError(f"size must be 0 (keep) or between 16 and 16384 px, not {self.size}")
        for name in ("start", "duration", "fps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a number of seconds >= 0, not {value}", field=name, value=value)
        if self.fps and not 0.1 <= self.fps <= 1000:
            raise ConfigError(f"fps must be 0 (keep) or between 0.1 and 1000, not {self.fps}")
        if not 0 <= self.crf <= 63:
            raise ConfigError(f"crf must be between 0 (default) and 63, not {self.crf}")
        if not 0 <= self.warm_iterations <= 100_000:
            raise ConfigError(f"warm_iterations must be between 0 (auto) and 100000, not {self.warm_iterations}")

    def replace(self, **changes: Any) -> "VideoConfig":
        """Return a copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """The config as pretty JSON."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


__all__ = ["CONSISTENCY_MODES", "FLOW_PRESETS", "VideoConfig"]
