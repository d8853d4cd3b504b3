"""Optimizing the pixels of one scale with L-BFGS or Adam."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch

from ..config import TransferConfig
from ..progress import OptionalCancel, is_cancelled
from .steppers import LBFGS, Adam

#: Iterations over which the early-stopping test averages the loss decrease.
PATIENCE = 10
#: Decay of Adam's iterate average: the output is an exponential moving average of
#: the iterates, which removes most of the noise Adam's steps leave in the image.
ADAM_AVERAGE_DECAY = 0.9


@dataclass
class ScaleResult:
    """Outcome of optimizing one scale.

    Attributes:
        image: 1 x 3 x h x w, the best (L-BFGS) or averaged (Adam) image, clamped to [0, 1].
        loss: its total loss.
        losses: its named loss parts.
        iterations: iterations run.
        interrupted: Ctrl-C or the cancel event stopped the run.
        history: total loss after each iteration.
    """

    image: torch.Tensor
    loss: float
    losses: Dict[str, float]
    iterations: int
    interrupted: bool = False
    history: List[float] = field(default_factory=list)


StepHook = Callable[[int, float, Dict[str, float], Callable[[], torch.Tensor]], None]


def _converged(history: List[float], tolerance: float) -> bool:
    if tolerance <= 0 or len(history) <= PATIENCE:
        return False
    old, new = history[-PATIENCE - 1], history[-1]
    return (old - new) / max(abs(new), 1e-12) < tolerance * PATIENCE


def optimize_scale(
    objective: Callable[[torch.Tensor], tuple],
    init: torch.Tensor,
    iterations: int,
    cfg: TransferConfig,
    on_step: Optional[StepHook] = None,
    cancel: OptionalCancel = None,
) -> ScaleResult:
    """Minimize ``objective`` over the pixels, starting from ``init`` (1 x 3 x h x w, 0..1).

    L-BFGS runs without a line search (one loss evaluation per iteration, as in
    jcjohnson/neural-style) and keeps the best image seen, because a step can
    occasionally overshoot. Adam returns the running average of its iterates.
    Ctrl-C, or ``cancel`` being set (checked after every iteration, from any
    thread), ends the scale early and returns what it has.
    """
    # contiguous: L-BFGS views the gradient as a flat vector, which fails for the
    # channels-last strides an image loaded from a file has (content at --size).
    x = init.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    use_adam = cfg.optimizer == "adam"
    stepper = Adam(lr=cfg.lr) if use_adam else LBFGS(history=50)
    if use_adam:
        average = x.detach().clone()
    best = {"loss": math.inf, "image": x.detach().clone(), "losses": {}}
    last: Dict[str, float] = {}
    history: List[float] = []

    def evaluate_and_step() -> None:
        x.grad = None
        loss, parts = objective(x)
        loss.backward()
        value = float(loss.detach())
        last.clear()
        last.update(parts, total=value)
        if value < best["loss"]:
            best.update(loss=value, image=x.detach().clone(), losses=dict(parts))
        stepper.step(x.data, x.grad)

    done = 0
    interrupted = False
    try:
        for done in range(1, iterations + 1):
            evaluate_and_step()
            if use_adam:
                with torch.no_grad():
                    x.clamp_(0, 1)
                    average.lerp_(x.detach(), 1 - ADAM_AVERAGE_DECAY)
            value = last["total"]
            history.append(value)
            if on_step is not None:
                current = average if use_adam else x

                def snapshot(img: torch.Tensor = current) -> torch.Tensor:
                    return img.detach().clamp(0, 1).clone()

                on_step(done, value, {k: v for k, v in last.items() if k != "total"}, snapshot)
            if is_cancelled(cancel):
                interrupted = True
                break
            if not math.isfinite(value):
                break
            if _converged(history, cfg.tolerance):
                break
    except KeyboardInterrupt:
        interrupted = True
    if use_adam:
        image = average.detach().clamp(0, 1)
        losses = {k: v for k, v in last.items() if k != "total"}
        loss = last.get("total", math.inf)
    else:
        image = best["image"].clamp(0, 1)
        losses, loss = best["losses"], best["loss"]
    return ScaleResult(image, loss, losses, done, interrupted, history)
