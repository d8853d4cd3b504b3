"""The loss-curve PNG: moved to :mod:`painterly.training.losscurve`.

Shared with AdaIN decoder training (:mod:`painterly.arbitrary`); this module
re-exports it so existing imports keep working.
"""

from __future__ import annotations

from ..training.losscurve import COLORS, _font, draw_loss_curve  # noqa: F401 - re-exports

__all__ = ["draw_loss_curve"]
