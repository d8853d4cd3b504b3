"""The one progress event every long job reports, and the cancel protocol.

Algorithms never print; they call ``on_progress(event)`` and the caller (the
CLI's progress bar, the web service's event stream, a notebook) decides what
to show. They stop when ``cancel.is_set()`` turns true, from any thread: a
:class:`threading.Event` or anything with an ``is_set()`` method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol

#: What a :class:`Progress` event is about.
KINDS = ("transfer", "stylize", "arbitrary", "train", "job", "video", "batch")


@dataclass(frozen=True)
class Progress:
    """One step of a long job.

    Attributes:
        step: steps done so far in the whole job (1-based): optimizer
            iterations, tiles, training iterations, frames or images.
        total: steps planned for the whole job (an upper bound when it may stop early).
        loss: the total loss after this step (NaN where there is none).
        losses: the named parts of the loss (content, style, tv, ...).
        stage: index of the current scale (0-based) of a multi-scale run.
        stages: number of scales.
        size: (height, width) in pixels of the image being worked on.
        elapsed: seconds since the job started.
        kind: what is being done, one of :data:`KINDS`.
        rate: steps per second measured by the job itself (0: let the
            receiver measure it).
        item: index (0-based) of the input being painted, for jobs over several.
        items: number of inputs of the job.
        wrote: files written after this step (training checkpoints, ...).
        snapshot: returns the current image when called (a 1 x 3 x h x w
            tensor or a uint8 (h, w, 3) array, RGB); lazy, so reporting
            costs nothing unless someone looks (see :meth:`preview`).
    """

    step: int
    total: int
    loss: float = math.nan
    losses: Mapping[str, float] = field(default_factory=dict)
    stage: int = 0
    stages: int = 1
    size: tuple = (0, 0)
    elapsed: float = 0.0
    kind: str = "transfer"
    rate: float = 0.0
    item: int = 0
    items: int = 1
    wrote: tuple = ()
    snapshot: Optional[Callable[[], Any]] = field(default=None, repr=False, compare=False)

    @property
    def iteration(self) -> int:
        """``step`` under the name training code uses."""
        return self.step

    @property
    def fraction(self) -> float:
        """Share of the job done, 0..1 (items and steps within the current item)."""
        inner = min(1.0, max(0.0, self.step / self.total)) if self.total > 0 else 0.0
        items = max(1, self.items)
        return min(1.0, (min(self.item, items - 1) + inner) / items) if items > 1 else inner

    @property
    def eta(self) -> Optional[float]:
        """Seconds left, from ``rate`` or else from elapsed time and :attr:`fraction`; None when unknown."""
        if self.rate > 0 and self.total > 0 and self.items <= 1:
            return max(0.0, (self.total - self.step) / self.rate)
        frac = self.fraction
        if frac <= 0 or self.elapsed <= 0:
            return None
        return max(0.0, self.elapsed * (1 - frac) / frac)

    def preview(self, max_side: int = 0) -> Any:
        """The current image as a PIL RGB image (shrunk to ``max_side`` px if given), or None.

        Encodes only when called, so a progress bar that never asks pays nothing.
        """
        if self.snapshot is None:
            return None
        import numpy as np
        from PIL import Image

        image = self.snapshot()
        if image is None:
            return None
        if not isinstance(image, np.ndarray):  # a tensor
            array = image.detach().float().clamp(0, 1).mul(255).round().byte().cpu()
            image = array.squeeze(0).permute(1, 2, 0).numpy()
        picture = Image.fromarray(np.ascontiguousarray(image))
        if max_side and max(picture.size) > max_side:
            picture.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        return picture

    def to_dict(self) -> dict:
        """JSON-ready fields (no snapshot): what the web service streams."""
        eta = self.eta
        return {
            "kind": self.kind,
            "step": self.step,
            "total": self.total,
            "fraction": round(self.fraction, 4),
            "loss": None if not math.isfinite(self.loss) else self.loss,
            "losses": {k: float(v) for k, v in self.losses.items()},
            "stage": self.stage,
            "stages": self.stages,
            "size": list(self.size),
            "elapsed": round(self.elapsed, 3),
            "eta": None if eta is None else round(eta, 1),
            "item": self.item,
            "items": self.items,
        }


class ProgressCallback(Protocol):
    """Anything called with a :class:`Progress` event after each step."""

    def __call__(self, event: Progress) -> None: ...


class CancelEvent(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool: ...


OptionalCallback = Optional[Callable[[Progress], None]]
OptionalCancel = Optional[CancelEvent]


def is_cancelled(cancel: OptionalCancel) -> bool:
    """True when ``cancel`` is given and set."""
    return cancel is not None and bool(cancel.is_set())


#: Kept for code written against the training event of painterly 0.1.
TrainProgress = Progress
OptionalTrainCallback = OptionalCallback

__all__ = [
    "KINDS",
    "CancelEvent",
    "OptionalCallback",
    "OptionalCancel",
    "Progress",
    "ProgressCallback",
    "is_cancelled",
]
