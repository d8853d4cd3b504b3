"""ONNX plumbing shared by the feed-forward and AdaIN paths (importing it imports neither onnx nor torch)."""

from __future__ import annotations

from typing import Any, List

from .errors import ModelError, UsageError


def onnx_providers(device: str, available: List[str]) -> List[str]:
    """onnxruntime execution providers for ``device`` (cpu, cuda, cuda:N), given those ``available``."""
    kind = device.split(":")[0].lower()
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    if kind == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise UsageError(
                f"device {device}: this onnxruntime has no CUDA support "
                f"(providers: {', '.join(available)}); use cpu or install onnxruntime-gpu"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise UsageError(f"device {device}: ONNX models run on cpu or cuda")


def require_onnx() -> Any:
    """The ``onnx`` module, or a one-line ModelError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ModelError(
            "exporting to ONNX needs the onnx package: pip install 'painterly[export]' (or pip install onnx)"
        ) from None
    return onnx


__all__ = ["onnx_providers", "require_onnx"]
