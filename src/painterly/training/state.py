"""The state every trainer carries and checkpoints, beside its own network and data.

:class:`Precision` is the mixed-precision policy of a run (which autocast
wraps which network, and the fp16 loss scaler). :class:`RunState` holds the
network, optimizer, precision, loss history and time of a run: it restores
them from a checkpoint and writes them back, with the metadata every model
file records. Feed-forward and AdaIN training each add their own samplers
and fields on top (:mod:`painterly.fast.train`, :mod:`painterly.arbitrary.train`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, ContextManager, Dict, List, Optional

import torch
from PIL import Image

from ..imaging.io import save_image
from ..progress import OptionalTrainCallback
from .common import TrainPaths, amp_dtype_for, final_losses, hardware, rng_state, set_rng_state, write_checkpoint
from .losscurve import draw_loss_curve
from .loop import Forward, LoopOutcome, run_loop


class Precision:
    """Mixed precision of one training run.

    On CUDA with ``amp``: bf16, or fp16 where the GPU lacks bf16 (with a
    ``GradScaler``); float32 otherwise (CPU). VGG19 on Caffe-scaled input
    (0..255) has activations beyond float16's range (65504), so in fp16 mode
    only the trained network runs in half precision; bf16 has float32's
    range, so there the VGG runs in it too.
    """

    def __init__(self, device: torch.device, amp: bool) -> None:
        self.dtype = amp_dtype_for(device, amp)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed crop size: let cuDNN pick its fastest kernels
        enabled = self.dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=enabled) if device.type == "cuda" else None

    def net(self) -> ContextManager[Any]:
        """Autocast for the trained network."""
        return torch.autocast("cuda", dtype=self.dtype) if self.dtype is not None else contextlib.nullcontext()

    def vgg(self) -> ContextManager[Any]:
        """Autocast for the frozen VGG19 (none in fp16 mode, see the class docstring)."""
        return self.net() if self.dtype == torch.bfloat16 else contextlib.nullcontext()

    def vgg_input(self, y: torch.Tensor) -> torch.Tensor:
        """The network's output as the VGG takes it (float32 unless the VGG runs in bf16)."""
        return y if self.dtype == torch.bfloat16 else y.float()

    def scaler_state(self) -> Optional[Dict[str, Any]]:
        return self.scaler.state_dict() if self.scaler is not None and self.scaler.is_enabled() else None


class RunState:
    """Network, optimizer, precision, loss history and elapsed time of a training run.

    Args:
        network: the module being trained (already on ``device``).
        optimizer: its optimizer.
        device: where it trains.
        amp: mixed precision on CUDA (see :class:`Precision`).
        started: ``time.perf_counter()`` when the run started.
    """

    def __init__(
        self, network: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device, amp: bool,
        started: float,
    ) -> None:
        self.network = network
        self.optimizer = optimizer
        self.device = device
        self.precision = Precision(device, amp)
        self.started = started
        self.history: Dict[str, List[float]] = {}
        self.start_iteration = 0
        self.seconds_before = 0.0
        #: The preview and loss curve last written (None: not yet).
        self.preview_written: Optional[Path] = None
        self.curve_written: Optional[Path] = None

    def restore(self, state: Optional[Dict[str, Any]]) -> None:
        """Load a checkpoint written from :meth:`checkpoint` (None: a fresh run, nothing to do)."""
        if state is None:
            return
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.precision.scaler is not None and state.get("scaler"):
            self.precision.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"], self.device)
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.start_iteration = int(state["iteration"])
        self.seconds_before = float(state.get("seconds", 0.0))

    def seconds(self) -> float:
        """Training time in all, including the runs before a resume."""
        return self.seconds_before + time.perf_counter() - self.started

    def checkpoint(self, iteration: int, config: Any, **extra: Any) -> Dict[str, Any]:
        """The checkpoint dict: the shared fields, the config dataclass and ``extra`` (samplers, ...)."""
        return {
            "iteration": iteration,
            "network": {k: v.detach().cpu() for k, v in self.network.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.precision.scaler_state(),
            "rng": rng_state(self.device),
            "config": dataclasses.asdict(config),
            "history": self.history,
            "seconds": self.seconds(),
            **extra,
        }

    def train_meta(self, checkpoint: Dict[str, Any], public_config: Dict[str, Any], skipped: int, unreadable: int,
                   **extra: Any) -> Dict[str, Any]:
        """The ``train`` metadata of the model file saved with ``checkpoint`` (from :meth:`checkpoint`,
        whose iteration and time it records): recipe, losses, hardware and time."""
        return {
            "config": public_config,
            "iterations": checkpoint["iteration"],
            **extra,
            "final_losses": final_losses(self.history),
            "hardware": hardware(self.device),
            "seconds": round(checkpoint["seconds"], 1),
            "skipped_files": skipped,
            "unreadable_files": unreadable,
        }

    def loop(
        self, config: Any, forward: Forward, commit: Callable[[int, Any], None],
        save_all: Callable[[bool], List[Path]], write_preview: Callable[[], Path], callback: OptionalTrainCallback,
        cancel: Any = None,
    ) -> LoopOutcome:
        """:func:`~painterly.training.loop.run_loop` over this state, to ``config.iterations``
        with ``config``'s checkpoint and preview intervals."""
        return run_loop(
            forward=forward, optimizer=self.optimizer, scaler=self.precision.scaler,
            start_iteration=self.start_iteration, iterations=config.iterations, history=self.history,
            checkpoint_every=config.checkpoint_every, preview_every=config.preview_every, commit=commit,
            save_all=save_all, write_preview=write_preview, callback=callback, started=self.started,
            cancel=cancel,
        )

    def result_fields(
        self, outcome: LoopOutcome, paths: TrainPaths, skipped: int, unreadable: List[Path]
    ) -> Dict[str, Any]:
        """The :class:`~painterly.training.common.TrainRun` fields of the finished loop, as keyword arguments."""
        done = outcome.iteration - outcome.start_iteration
        return dict(
            model_path=paths.model, checkpoint_path=paths.checkpoint, preview_path=self.preview_written,
            loss_curve_path=self.curve_written, iterations=outcome.iteration,
            start_iteration=outcome.start_iteration, losses=final_losses(self.history), history=self.history,
            elapsed=time.perf_counter() - self.started,
            seconds_per_iteration=outcome.seconds / done if done else 0.0, interrupted=outcome.interrupted,
            skipped_files=skipped, unreadable_files=unreadable, device=str(self.device),
        )

    def write_preview(self, render: Callable[[], Image.Image], path: Path) -> Path:
        """Save ``render()`` (the trainer's preview sheet) atomically at ``path``."""
        save_image(render(), path)
        self.preview_written = path
        return path

    def write_files(
        self, paths: TrainPaths, checkpoint: Dict[str, Any], kind: str, save_model: Callable[[], Any],
        curve_title: str, write_preview: Optional[Callable[[], Path]],
    ) -> List[Path]:
        """Write the checkpoint, the model (``save_model()``), the loss curve and, if given, the preview.

        Returns:
            The paths written, in that order.
        """
        write_checkpoint(paths.checkpoint, checkpoint, kind=kind)
        save_model()
        written = [paths.checkpoint, paths.model]
        if self.history:
            draw_loss_curve(self.history, paths.loss_curve, title=curve_title)
            self.curve_written = paths.loss_curve
            written.append(paths.loss_curve)
        if write_preview is not None:
            written.append(write_preview())
        return written


__all__ = ["Precision", "RunState"]
