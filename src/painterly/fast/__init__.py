"""Feed-forward style transfer: training (torch) and inference (torch or onnxruntime).

Names are imported lazily so that ``painterly.fast.stylize`` with an ONNX model
never imports torch (only :mod:`~painterly.fast.torch_runtime`,
:mod:`~painterly.fast.onnx_export` and :mod:`~painterly.fast.train` do).
"""

from __future__ import annotations

from ..lazy import lazy_exports


#: public name -> module that defines it
_EXPORTS = {
    "stylize_array": "painterly.fast.stylize",
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
