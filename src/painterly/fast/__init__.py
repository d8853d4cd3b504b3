"""Feed-forward style transfer: training (torch) and inference (torch or onnxruntime).

Names are imported lazily so that ``painterly.fast.stylize`` with an ONNX model
never imports torch (only :mod:`~painterly.fast.torch_runtime`,
:mod:`~painterly.fast.onnx_export` and :mod:`~painterly.fast.train` do).
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module that defines it
_EXPORTS = {
    "stylize": "painterly.fast.stylize",
    "stylize_array": "painterly.fast.stylize",
    "stylize_file": "painterly.fast.stylize",
    "load_stylizer": "painterly.fast.stylize",
    "parse_style_weights": "painterly.fast.stylize",
    "stylize_tiled": "painterly.fast.tiling",
    "export_onnx": "painterly.fast.onnx_export",
    "OnnxStylizer": "painterly.fast.onnx_runtime",
    "TorchStylizer": "painterly.fast.torch_runtime",
    "train": "painterly.fast.train",
    "TrainResult": "painterly.fast.train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'painterly.fast' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
