"""ONNX plumbing shared by the feed-forward and AdaIN paths (importing it imports neither onnx nor torch)."""

from __future__ import annotations

from typing import Any, List, Optional

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


def make_session(path: Any, device: str = "cpu", threads: int = 0, model: Optional[bytes] = None) -> Any:
    """An onnxruntime session for the model file ``path``: the one place sessions are built.

    Args:
        path: the ``.onnx`` file (named in errors).
        model: the model's bytes to load instead of reading ``path`` (an edited copy).
        device: cpu, cuda or cuda:N.
        threads: intra-op threads (0: onnxruntime's default, all cores); one
            inter-op thread, since these graphs are a single chain.

    Raises:
        ModelError: onnxruntime is missing, or the file is not a readable ONNX model.
        UsageError: a device this onnxruntime cannot use.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError("running ONNX models needs onnxruntime: pip install onnxruntime") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(0, int(threads))
    options.inter_op_num_threads = 1
    # Warnings about deduplicated initializers and the like are not the user's business.
    options.log_severity_level = 3
    providers = onnx_providers(device, ort.get_available_providers())
    try:
        return ort.InferenceSession(str(path) if model is None else model, options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own kinds for bad files
        reason = " ".join(str(exc).split())[:200]
        raise ModelError(f"model file {path} is corrupt or not an ONNX model ({reason})") from exc


def require_onnx() -> Any:
    """The ``onnx`` module, or a one-line ModelError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ModelError(
            "exporting to ONNX needs the onnx package: pip install 'painterly[export]' (or pip install onnx)"
        ) from None
    return onnx


__all__ = ["make_session", "onnx_providers", "require_onnx"]
