"""Export an AdaIN model (VGG19 encoder + decoder) to one ONNX file, to run without torch.

The graph (opset 17) has two independent halves, so AdaIN itself (a few MB of
per-channel statistics, style interpolation, masks) runs in numpy between
them (:mod:`painterly.arbitrary.runtime`):

================  ===================  ================================================
name              shape                meaning
================  ===================  ================================================
input ``image``   1 x 3 x H x W        RGB float32 in [0, 1]; H, W multiples of 8
input ``target``  1 x 512 x h x w      the decoder's input (h, w >= 2)
output            1 x 512 x H/8 x W/8  ``features``: VGG19 relu4_1 of ``image``
output            1 x 3 x 8h x 8w      ``decoded``: the decoder's output for ``target``
                                       (RGB, unclamped)
================  ===================  ================================================

onnxruntime runs every node of a graph whatever outputs are asked for, so
the runtime feeds the half it does not need a tiny input (16 x 16 image,
2 x 2 target): that costs about a millisecond. (Default initializers for the
inputs would make them optional, but onnxruntime then warns and skips some
graph optimizations.) The VGG19 weights up to ``conv4_1`` (14 MB) are part
of the file, so it runs on its own.

The painterly metadata JSON of the ``.safetensors`` model (kind ``adain``) is
stored in ``metadata_props["painterly"]`` with an ``"onnx"`` entry, so
``painterly models`` lists both files and ``--style-image`` finds the
``.onnx`` one by name first.

Needs ``torch`` and the ``onnx`` package (``pip install painterly[export]``).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any, Dict, Union

from ..errors import ModelError, UsageError
from ..onnx_support import require_onnx as _require_onnx
from .runtime import ONNX_DECODED, ONNX_FEATURES, ONNX_IMAGE, ONNX_TARGET

#: Opset of the exported graph.
OPSET = 17


def onnx_bytes(decoder: Any, meta: Dict[str, Any]) -> bytes:
    """The ``.onnx`` file's bytes for an AdaIN ``decoder`` (with the shared VGG19) and metadata ``meta``."""
    import copy

    import torch

    from ..models.adain import ENCODER_LAYER
    from ..models.vgg import VGG19

    onnx = _require_onnx()
    decoder = copy.deepcopy(decoder).to("cpu", torch.float32).eval()
    vgg = VGG19("max").eval()

    class Halves(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vgg = vgg
            self.decoder = decoder

        def forward(self, image: torch.Tensor, target: torch.Tensor) -> Any:
            return self.vgg(image, (ENCODER_LAYER,))[ENCODER_LAYER], self.decoder(target)

    example = (torch.rand(1, 3, 64, 64), torch.rand(1, 512, 4, 4))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            Halves(), example, buffer, dynamo=False, opset_version=OPSET,
            input_names=[ONNX_IMAGE, ONNX_TARGET], output_names=[ONNX_FEATURES, ONNX_DECODED],
            dynamic_axes={
                ONNX_IMAGE: {2: "height", 3: "width"}, ONNX_TARGET: {2: "h", 3: "w"},
                ONNX_FEATURES: {2: "height_8", 3: "width_8"}, ONNX_DECODED: {2: "h8", 3: "w8"},
            },
        )
    model = onnx.load_from_string(buffer.getvalue())
    full = dict(meta)
    full["onnx"] = {
        "opset": OPSET,
        "inputs": [ONNX_IMAGE, ONNX_TARGET],
        "outputs": [ONNX_FEATURES, ONNX_DECODED],
        "encoder": f"VGG19 to {ENCODER_LAYER} (Caffe preprocessing inside; input RGB [0, 1])",
    }
    onnx.helper.set_model_props(model, {"painterly": json.dumps(full, sort_keys=True)})
    model.doc_string = (
        "painterly AdaIN model: 'image' (1x3xHxW RGB [0,1], H, W multiples of 8) -> 'features' (VGG19 relu4_1); "
        "'target' (1x512xhxw) -> 'decoded' (1x3x8hx8w RGB). AdaIN runs between them."
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_adain_onnx(model: Union[str, "os.PathLike[str]"], path: Union[str, "os.PathLike[str]"]) -> Path:
    """Export an AdaIN ``.safetensors`` model (name or path) to an ONNX file, atomically.

    Raises:
        ModelError: unknown or not an AdaIN model, or the onnx package is missing.
        UsageError: ``path`` does not end in ``.onnx``.
        OutputError: the file cannot be written.
    """
    from ..imaging.io import write_atomic
    from ..models.adain import KIND
    from ..models.checkpoints import load_model

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise UsageError(f"ONNX models end in .onnx, not '{path.suffix or '(none)'}': {path}")
    _require_onnx()
    decoder, info = load_model(model, "cpu", kind=KIND)
    return write_atomic(path, onnx_bytes(decoder, info.meta))


__all__ = ["OPSET", "export_adain_onnx", "onnx_bytes"]
