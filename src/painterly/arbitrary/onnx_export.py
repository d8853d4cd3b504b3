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

By default the encoder runs in int8 (:func:`quantize_encoder`: convolutions, ReLUs and
max-pools; weights per output channel, activations per tensor with ranges calibrated on the
bundled example photos and paintings; the decoder, which draws the pixels, stays
float32). That makes the encoder, most of a stylization's time, markedly faster
on CPU and the file 10 MB smaller, for a small move of the relu4_1 features
that did not change the arbitrary benchmark's outcome (the measurements are in
docs/models.md, "Inference defaults, chosen by measurement"). ``int8=False`` keeps float32, which is
what onnxruntime on a GPU wants (its CUDA provider leaves int8 convolutions to the CPU).

Needs ``torch`` and the ``onnx`` package (``pip install painterly[export]``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np

from ..errors import ModelError, UsageError
from ..onnx_support import require_onnx as _require_onnx
from .runtime import ONNX_DECODED, ONNX_FEATURES, ONNX_IMAGE, ONNX_TARGET

#: Opset of the exported graph.
OPSET = 17
#: Operators of the encoder that :func:`quantize_encoder` runs in int8.
QUANTIZED_OPS = ("Conv", "Relu", "MaxPool")
#: Long side in px of the calibration images of :func:`quantize_encoder`.
CALIBRATION_SIZE = 384


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


def calibration_images(size: int = CALIBRATION_SIZE) -> List[np.ndarray]:
    """The bundled example photos and paintings as (1, 3, h, w) float32 RGB [0, 1], long side
    ``size``, sides multiples of 8: what :func:`quantize_encoder` calibrates on."""
    import importlib.resources

    from ..imaging.io import load_array

    # The package's data folder, found as 'painterly demo' finds its images.
    data = Path(str(importlib.resources.files("painterly") / "data"))
    images = []
    for path in sorted(data.glob("*.jpg")):
        pixels = load_array(path, size=size)
        h, w = (pixels.shape[0] // 8) * 8, (pixels.shape[1] // 8) * 8
        images.append(pixels[:h, :w].transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0))
    return images


def encoder_nodes(graph: Any) -> List[Any]:
    """The nodes of an AdaIN ONNX ``graph`` on the path from the image to ``features`` (the encoder)."""
    producer = {out: node for node in graph.node for out in node.output}
    seen, nodes, todo = set(), [], [ONNX_FEATURES]
    while todo:
        node = producer.get(todo.pop())
        if node is not None and node.name not in seen:
            seen.add(node.name)
            nodes.append(node)
            todo.extend(node.input)
    return nodes


def quantize_encoder(model_bytes: bytes, images: Optional[Sequence[np.ndarray]] = None) -> bytes:
    """The AdaIN graph ``model_bytes`` with its encoder in int8.

    Static quantization (onnxruntime): weights int8 per output channel, activations
    uint8 per tensor from their min/max over ``images`` ((1, 3, h, w) RGB [0, 1];
    default :func:`calibration_images`), with the 7-bit range that keeps AVX2's
    8-bit multiply-add from saturating. Only the convolutions, ReLUs and max-pools
    (:data:`QUANTIZED_OPS`) on the path to ``features`` change; metadata is kept.
    """
    onnx = _require_onnx()
    try:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    except ImportError as exc:  # pragma: no cover - onnxruntime ships the quantization tools
        raise ModelError(f"int8 export needs onnxruntime's quantization tools: {exc}") from None

    model = onnx.load_from_string(model_bytes)
    encoder = {n.name for n in encoder_nodes(model.graph)}
    # Convolutions, ReLUs and max-pools: with all three quantized the activations stay
    # uint8 from the first convolution to relu4_1 (ReLU becomes the output range of the
    # convolution before it; uint8 max-pool is exact), instead of a dequantize, a float
    # ReLU and a quantize around every convolution.
    nodes = [n.name for n in model.graph.node if n.name in encoder and n.op_type in QUANTIZED_OPS]
    feeds = [
        {ONNX_IMAGE: image, ONNX_TARGET: np.zeros((1, 512, 2, 2), np.float32)}
        for image in (images if images is not None else calibration_images())
    ]

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.feeds: Iterator[Dict[str, np.ndarray]] = iter(feeds)

        def get_next(self) -> Optional[Dict[str, np.ndarray]]:
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(prefix="painterly-int8-") as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(model_bytes)
        # The quantizer logs advice through the root logger; it is not the user's concern.
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_static(
                    str(source), str(target), Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
                    reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_quantize=nodes,
                )
        except Exception as exc:  # noqa: BLE001 - onnxruntime's quantizer raises many kinds
            raise ModelError(f"int8 quantization of the encoder failed ({exc}); export with --fp32") from exc
        finally:
            logging.disable(previous)
        quantized = onnx.load(str(target))
    # The quantizer keeps metadata_props; record the precision for 'painterly models' and the docs.
    props = {p.key: p.value for p in quantized.metadata_props}
    meta = json.loads(props.get("painterly", "{}"))
    meta.setdefault("onnx", {})["encoder_precision"] = "int8 (convolutions, ReLUs, max-pools; activations calibrated)"
    props["painterly"] = json.dumps(meta, sort_keys=True)
    onnx.helper.set_model_props(quantized, props)
    return quantized.SerializeToString()


def export_adain_onnx(
    model: Union[str, "os.PathLike[str]"], path: Union[str, "os.PathLike[str]"], int8: bool = True
) -> Path:
    """Export an AdaIN ``.safetensors`` model (name or path) to an ONNX file, atomically.

    ``int8`` quantizes the encoder (:func:`quantize_encoder`; see the module docstring).

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
    data = onnx_bytes(decoder, info.meta)
    return write_atomic(path, quantize_encoder(data) if int8 else data)


__all__ = ["CALIBRATION_SIZE", "OPSET", "QUANTIZED_OPS", "calibration_images", "encoder_nodes", "export_adain_onnx", "onnx_bytes", "quantize_encoder"]
