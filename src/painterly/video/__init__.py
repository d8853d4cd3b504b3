"""Video: frame I/O through PyAV, optical flow and temporal consistency, for any painter.

* :mod:`~painterly.video.source` / :mod:`~painterly.video.sink`: streaming frames in and out
  (timestamps, rotation, audio copied packet for packet);
* :mod:`~painterly.video.flow` / :mod:`~painterly.video.temporal`: DIS optical flow,
  occlusion, and the flow-guided blend that removes flicker;
* :mod:`~painterly.video.run`: :func:`stylize_video` and :func:`run_video`, with progress,
  cancel and resume (:mod:`~painterly.video.resume`);
* :mod:`~painterly.video.metrics`: warping error and detail energy.

Needs the ``video`` extra (``av``, ``opencv-python-headless``); names load lazily.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "VideoConfig": "painterly.video.config",
    "VideoResult": "painterly.video.run",
    "run_video": "painterly.video.run",
    "stylize_video": "painterly.video.run",
    "VideoError": "painterly.video.errors",
    "warping_error": "painterly.video.metrics",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
