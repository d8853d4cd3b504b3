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


__all__ = ["torch_device"]
