"""Progress events that long-running algorithms report through a callback.

Algorithms never print; they call ``callback(event)`` and the caller (the CLI's
progress bar, the web layer, a notebook) decides what to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol


@dataclass(frozen=True)
class Progress:
    """One step of an iterative job.

    Attributes:
        step: steps done so far in the whole job (1-based).
        total: steps planned for the whole job (an upper bound when it may stop early).
        loss: the total loss after this step.
        losses: the named parts of the loss (content, style, tv, ...).
        stage: index of the current scale (0-based) of a multi-scale run.
        stages: number of scales.
        size: (height, width) in pixels of the image being optimized.
        elapsed: seconds since the job started.
        snapshot: returns the current image (1 x 3 x h x w, RGB 0..1) when called;
            lazy so that reporting costs nothing unless someone saves it.
    """

    step: int
    total: int
    loss: float
    losses: Mapping[str, float] = field(default_factory=dict)
    stage: int = 0
    stages: int = 1
    size: tuple[int, int] = (0, 0)
    elapsed: float = 0.0
    snapshot: Optional[Callable[[], Any]] = field(default=None, repr=False, compare=False)


class ProgressCallback(Protocol):
    """Anything called with a :class:`Progress` event after each step."""

    def __call__(self, event: Progress) -> None: ...


OptionalCallback = Optional[Callable[[Progress], None]]


@dataclass(frozen=True)
class TrainProgress:
    """One training iteration of a feed-forward network (or a file it just wrote).

    Attributes:
        iteration: iterations done so far (1-based; counts those before a resume).
        total: iterations planned.
        loss: the weighted total loss of this iteration's batch.
        losses: its unweighted parts (content, style, tv), as in :class:`Progress`.
        rate: iterations per second over this run (excluding setup).
        elapsed: seconds since training started (this run, not counting earlier runs).
        wrote: files written after this iteration (checkpoint, model, preview,
            loss curve), empty on most iterations.
    """

    iteration: int
    total: int
    loss: float
    losses: Mapping[str, float] = field(default_factory=dict)
    rate: float = 0.0
    elapsed: float = 0.0
    wrote: tuple = ()


OptionalTrainCallback = Optional[Callable[[TrainProgress], None]]
