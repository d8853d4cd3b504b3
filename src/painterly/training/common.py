"""What every training loop needs besides its network and losses.

Shared by feed-forward training (:mod:`painterly.fast.train`) and AdaIN
decoder training (:mod:`painterly.arbitrary.train`), which may not import each
other: the files a run writes beside its model, the device choice, Ctrl-C
deferral around the optimizer step, RNG state capture for exact resumes, the
checkpoint file (read, write, and the resume/refuse-to-clobber rules),
hardware facts and the final-loss summary for the model's metadata.

A checkpoint is a ``torch.save`` dict with ``"format": CHECKPOINT_FORMAT``,
``"version"``, ``"kind"`` (the model kind it trains: ``"feedforward"`` when
absent, as in the first checkpoints written) and whatever the loop stores
(network, optimizer, iteration, RNG and sampler states, config, history).
It holds only tensors, numbers, strings, lists and dicts, so it loads with
``weights_only=True``.
"""

from __future__ import annotations

import dataclasses
import io
import os
import platform
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
import torch

from ..errors import ConfigError, OutputError

#: ``format`` of a training checkpoint (``NAME.ckpt``, a torch.save dict).
CHECKPOINT_FORMAT = "painterly-train-checkpoint"
CHECKPOINT_VERSION = 1

#: Final losses in the model metadata are means over this many last iterations
#: (single batches are noisy).
FINAL_LOSS_WINDOW = 100


@dataclass
class TrainRun:
    """What a training call returns; the trainers' result classes add their own fields.

    Attributes:
        model_path: the model file written (``output``).
        checkpoint_path: the training checkpoint (``NAME.ckpt``).
        preview_path: the latest preview image (None if none was written).
        loss_curve_path: the loss curve PNG (None if no iteration ran).
        iterations: iterations done in all (including those before a resume).
        start_iteration: where this run started (0, or the resumed checkpoint's).
        losses: unweighted loss parts and the weighted ``total``, averaged
            over the last :data:`FINAL_LOSS_WINDOW` iterations.
        history: per-iteration values of each part and ``total``.
        elapsed: seconds this run took (setup included).
        seconds_per_iteration: mean seconds of this run's iterations.
        interrupted: Ctrl-C (or SIGTERM) stopped the run; the checkpoint holds its state.
        skipped_files: files in the data folders that are not images.
        unreadable_files: image files that failed to decode (skipped).
        device: the torch device trained on.
    """

    model_path: Path
    checkpoint_path: Path
    preview_path: Optional[Path]
    loss_curve_path: Optional[Path]
    iterations: int
    start_iteration: int
    losses: Dict[str, float]
    history: Dict[str, List[float]]
    elapsed: float
    seconds_per_iteration: float
    interrupted: bool
    skipped_files: int
    unreadable_files: List[Path]
    device: str


@dataclass(frozen=True)
class TrainPaths:
    """The files a training run writes, all beside the model."""

    model: Path
    checkpoint: Path
    preview: Path
    loss_curve: Path

    def all(self) -> List[Path]:
        """The four paths, model first."""
        return [self.model, self.checkpoint, self.preview, self.loss_curve]


def train_paths(output: str | os.PathLike) -> TrainPaths:
    """Paths for ``output`` (``.safetensors`` is added when it has no suffix).

    ``NAME.safetensors`` gives ``NAME.ckpt``, ``NAME_preview.png`` and
    ``NAME_loss.png`` in the same folder.

    Raises:
        ConfigError: ``output`` is empty or has another suffix.
    """
    text = os.fspath(output)
    if not text.strip():
        raise ConfigError("output is empty; give the model file to write, e.g. starry.safetensors")
    path = Path(text).expanduser()
    if path.suffix == "":
        path = path.with_name(path.name + ".safetensors")
    if path.suffix.lower() != ".safetensors":
        raise ConfigError(
            f"output must be a .safetensors file, not '{path.name}' (ONNX models are made from it by export)"
        )
    stem = path.name[: -len(path.suffix)]
    return TrainPaths(
        model=path,
        checkpoint=path.with_name(stem + ".ckpt"),
        preview=path.with_name(stem + "_preview.png"),
        loss_curve=path.with_name(stem + "_loss.png"),
    )


def check_writable(path: Path) -> None:
    """Raise :class:`OutputError` unless ``path`` can be (re)written as a file."""
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {parent} is not writable")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; refuses an unavailable device (see
    :func:`painterly.models.device.torch_device`)."""
    from ..models.device import torch_device

    return torch_device(name, auto=True)


def amp_dtype_for(device: torch.device, amp: bool) -> Optional[torch.dtype]:
    """The autocast dtype for training: bf16 (or fp16 without bf16) on CUDA with ``amp``, else None."""
    if device.type != "cuda" or not amp:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def rng_state(device: torch.device) -> Dict[str, Any]:
    """torch (CPU and, on CUDA, GPU), numpy and Python RNG states, checkpoint-safe."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
        # As plain ints so the checkpoint loads with weights_only=True.
        "numpy": (np_state[0], [int(v) for v in np_state[1]], int(np_state[2]), int(np_state[3]), float(np_state[4])),
        "python": random.getstate(),
    }


def set_rng_state(state: Dict[str, Any], device: torch.device) -> None:
    """Restore :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and device.type == "cuda":
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def read_checkpoint(path: Path, kind: str = "feedforward") -> Dict[str, Any]:
    """Load a training checkpoint (tensors on the CPU).

    Args:
        path: the ``.ckpt`` file.
        kind: the model kind the caller trains; a checkpoint of another kind is refused.

    Raises:
        ConfigError: not a painterly training checkpoint, a newer version, or another kind.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for bad files
        raise ConfigError(f"cannot resume: {path} is not a readable training checkpoint ({type(exc).__name__})") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"cannot resume: {path} is not a painterly training checkpoint")
    if state.get("version", 0) > CHECKPOINT_VERSION:
        raise ConfigError(f"cannot resume: {path} was written by a newer painterly; upgrade to continue it")
    found = state.get("kind", "feedforward")
    if found != kind:
        raise ConfigError(
            f"cannot resume: {path} is the checkpoint of a '{found}' model, not '{kind}'; "
            "choose another output name"
        )
    return state


def write_checkpoint(path: Path, state: Mapping[str, Any], kind: str = "feedforward") -> Path:
    """Write ``state`` (plus format, version and kind) to ``path`` atomically."""
    from ..imaging.io import write_atomic

    full = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "kind": kind, **state}
    buffer = io.BytesIO()
    torch.save(full, buffer)
    return write_atomic(path, buffer.getvalue())


def resume_state(checkpoint: Path, resume: bool, kind: str = "feedforward") -> Optional[Dict[str, Any]]:
    """The checkpoint to continue from, or None to start afresh.

    Raises:
        ConfigError: ``resume`` without a checkpoint; or starting afresh over
            an unfinished checkpoint (resume it or delete it). A finished or
            unreadable checkpoint may be overwritten.
    """
    if checkpoint.exists() and resume:
        return read_checkpoint(checkpoint, kind)
    if checkpoint.exists():
        try:
            previous: Optional[Dict[str, Any]] = read_checkpoint(checkpoint, kind)
        except ConfigError:
            previous = None  # unreadable (or another kind) anyway: starting afresh loses nothing of ours
        if previous is not None:
            done, planned = int(previous["iteration"]), int(previous["config"]["iterations"])
            if done < planned:
                raise ConfigError(
                    f"{checkpoint} holds an unfinished training ({done} of {planned} iterations): "
                    "resume it, or delete the file to start afresh"
                )
        return None
    if resume:
        raise ConfigError(f"cannot resume: no checkpoint at {checkpoint}")
    return None


def check_resume_config(
    cfg: Any, saved: Mapping[str, Any], resumable: Iterable[str], path: Path, may_change: str
) -> None:
    """Refuse to resume when a config field outside ``resumable`` differs from the checkpoint's.

    Args:
        cfg: the config dataclass of this run.
        saved: ``dataclasses.asdict`` of the checkpoint's config.
        resumable: field names that may change on resume.
        path: the checkpoint (named in the message).
        may_change: the human list of what may change, for the message.
    """
    allowed = set(resumable)
    for f in dataclasses.fields(cfg):
        if f.name in allowed or f.name not in saved:
            continue
        now, then = getattr(cfg, f.name), saved[f.name]
        if isinstance(now, tuple):
            then = tuple(then)
        if now != then:
            raise ConfigError(
                f"cannot resume: {f.name} is {now!r} but the checkpoint {path.name} was made with {then!r}; "
                f"use the same settings (only {may_change} may change) or start afresh"
            )


def public_config(cfg: Any, paths: Sequence[str]) -> Dict[str, Any]:
    """``cfg`` as a dict for a model's metadata, the fields named in ``paths`` cut to file names.

    Shipped models must not carry the trainer's home folders; a field may hold
    one path or a list of them.
    """
    out = dataclasses.asdict(cfg)
    for key in paths:
        value = out[key]
        if isinstance(value, (list, tuple)):
            out[key] = [Path(v).name for v in value]
        else:
            out[key] = Path(value).name if value else ""
    return out


def hardware(device: torch.device) -> Dict[str, Any]:
    """Device, torch version and threads (and the GPU or CPU name) for the model's metadata."""
    info: Dict[str, Any] = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    else:
        info["cpu"] = platform.processor() or platform.machine()
        info["cpu_count"] = os.cpu_count()
    return info


def final_losses(history: Mapping[str, Sequence[float]], window: int = FINAL_LOSS_WINDOW) -> Dict[str, float]:
    """Each loss term's mean over the last ``window`` iterations."""
    out = {}
    for key, values in history.items():
        tail = list(values)[-window:]
        if tail:
            out[key] = float(sum(tail) / len(tail))
    return out


__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "FINAL_LOSS_WINDOW",
    "TrainPaths",
    "TrainRun",
    "amp_dtype_for",
    "check_resume_config",
    "check_writable",
    "final_losses",
    "hardware",
    "public_config",
    "read_checkpoint",
    "resolve_device",
    "resume_state",
    "rng_state",
    "set_rng_state",
    "train_paths",
    "write_checkpoint",
]


def finish_training(result: Any, cancel: Any) -> Any:
    """Return ``result``, or raise :class:`~painterly.errors.Cancelled` carrying it when
    ``cancel`` stopped the run (Ctrl-C alone returns it with ``interrupted=True``)."""
    from ..errors import Cancelled
    from ..progress import is_cancelled

    if result.interrupted and is_cancelled(cancel):
        raise Cancelled(
            f"training cancelled at iteration {result.iterations}; the checkpoint {result.checkpoint_path} "
            "holds its state (resume to continue)",
            result=result,
        )
    return result
