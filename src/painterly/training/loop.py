"""The iteration loop shared by feed-forward and AdaIN training.

Both trainers differ in how a batch becomes a loss; everything around it is
the same and lives here: the backward pass (with a gradient scaler for
float16), the optimizer step and its bookkeeping as one uninterruptible
unit, the loss history, the non-finite-loss stop, checkpoints and previews
on their schedule, progress callbacks, and Ctrl-C (checkpoint, then return).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from ..errors import ConfigError
from ..progress import OptionalCallback, OptionalCancel, Progress, is_cancelled

#: ``forward(iteration) -> (total loss, named parts, batch state)``: one batch's
#: losses with autograd; the batch state is what the samplers must resume after.
Forward = Callable[[int], Tuple[torch.Tensor, Dict[str, torch.Tensor], Any]]


@dataclass
class LoopOutcome:
    """Where :func:`run_loop` stopped.

    Attributes:
        iteration: iterations done in all (including those before a resume).
        interrupted: Ctrl-C stopped it (a checkpoint was written).
        seconds: wall time of the loop itself.
        start_iteration: where it started (0, or the resumed checkpoint's).
    """

    iteration: int
    interrupted: bool
    seconds: float
    start_iteration: int = 0


def run_loop(
    *,
    forward: Forward,
    optimizer: torch.optim.Optimizer,
    scaler: Optional[Any],
    start_iteration: int,
    iterations: int,
    history: Dict[str, List[float]],
    checkpoint_every: int,
    preview_every: int,
    commit: Callable[[int, Any], None],
    save_all: Callable[[bool], List[Path]],
    write_preview: Callable[[], Path],
    callback: OptionalCallback,
    started: float,
    cancel: OptionalCancel = None,
) -> LoopOutcome:
    """Train from ``start_iteration`` to ``iterations``.

    Args:
        forward: computes one batch's losses (see :data:`Forward`).
        optimizer, scaler: the optimizer, and a ``GradScaler`` (or None).
        history: per-iteration loss values, appended to in place.
        checkpoint_every, preview_every: schedules (``preview_every`` 0:
            a preview with each checkpoint).
        commit: called with the new iteration count and the batch state
            right after each optimizer step, inside the same
            uninterruptible block, so ``save_all`` always sees a consistent
            state.
        save_all: writes checkpoint, model and loss curve (and the preview
            when asked); returns the paths written.
        write_preview: writes the preview alone; returns its path.
        callback: progress callback (or None).
        started: ``time.perf_counter()`` when the training call began.
        cancel: stops after the current iteration when set (a checkpoint is written).
    """
    iteration = start_iteration
    loop_start = time.perf_counter()
    interrupted = False
    scaled = scaler is not None and scaler.is_enabled()
    stepping = False
    try:
        while iteration < iterations:
            optimizer.zero_grad(set_to_none=True)
            total, parts, batch_state = forward(iteration)
            if scaled:
                scaler.scale(total).backward()
            else:
                total.backward()
            values = {"total": float(total.detach())}
            values.update((k, float(v.detach())) for k, v in parts.items())
            # A KeyboardInterrupt (the CLI's second Ctrl-C: an abort) landing inside the step
            # leaves half-updated weights, so no checkpoint is written from there: the last
            # one stays. The first Ctrl-C only sets ``cancel``, checked between iterations.
            stepping = True
            if scaled:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            iteration += 1
            commit(iteration, batch_state)
            for key, value in values.items():
                history.setdefault(key, []).append(value)
            stepping = False
            if not math.isfinite(values["total"]):
                raise ConfigError(
                    f"the loss became {values['total']} at iteration {iteration}; lower lr or the loss weights"
                )
            wrote: List[Path] = []
            last = iteration == iterations
            preview_due = (preview_every > 0 and iteration % preview_every == 0) or last
            if iteration % checkpoint_every == 0 or last:
                wrote = save_all(preview_due or preview_every == 0)
            elif preview_due:
                wrote = [write_preview()]
            if callback is not None:
                elapsed = time.perf_counter() - loop_start
                callback(
                    Progress(
                        kind="train",
                        step=iteration,
                        total=iterations,
                        loss=values["total"],
                        losses={k: v for k, v in values.items() if k != "total"},
                        rate=(iteration - start_iteration) / elapsed if elapsed > 0 else 0.0,
                        elapsed=time.perf_counter() - started,
                        wrote=tuple(wrote),
                    )
                )
            if is_cancelled(cancel) and iteration < iterations:
                interrupted = True
                if iteration % checkpoint_every:  # not just written above
                    save_all(True)
                break
    except KeyboardInterrupt:
        interrupted = True
        if not stepping:
            save_all(True)
    if start_iteration >= iterations and not interrupted:
        save_all(True)  # nothing left to do: rewrite the outputs so they exist
    return LoopOutcome(iteration, interrupted, time.perf_counter() - loop_start, start_iteration)


__all__ = ["Forward", "LoopOutcome", "run_loop"]
