"""Export a feed-forward model to ONNX, to run with onnxruntime and without torch.

The exported graph (opset 17):

==========================  ==============  ===========================================
name                        shape           meaning
==========================  ==============  ===========================================
input ``image``             B x 3 x H x W   RGB float32 in [0, 1]; any B, H, W >= 8
input ``style_weights``     1 x N           blend of the N styles (only when N > 1)
input ``norm_stats``        1 x K           optional (default zeros): instance-norm
                                            statistics to normalize with
input ``use_norm_stats``    scalar bool     optional (default false): normalize with
                                            ``norm_stats`` instead of the image's own
input ``record_norm_stats`` scalar bool     optional (default false): output the
                                            image's own statistics
output ``stylized``         B x 3 x H x W   RGB float32 in [0, 1]
output ``image_norm_stats`` B x K           the image's statistics when recorded,
                                            else ``norm_stats`` passed through
==========================  ==============  ===========================================

So ``session.run(["stylized"], {"image": x})`` is all a plain user needs; the
optional inputs exist for tiled inference of large images, where every tile
must be normalized with the same statistics (see :mod:`painterly.fast.tiling`
and :mod:`painterly.fast.norm_stats`). K is 2 x the channels of all norm
layers (per layer: C means, then C variances).

Why ``If`` nodes: onnxruntime runs every node of a graph whatever outputs are
asked for. A graph that computed both normalizations and picked one with
``Where`` was about 25% slower than the plain network, and recording the
statistics on every run cost another 10%. So the export traces the three
paths (plain, plain + statistics, given statistics) in one go, so they share
the weight initializers, then moves the nodes only one path needs into the
branches of two nested ``If`` nodes; onnxruntime runs only the branch taken,
and the plain branch is exactly the plain network with its fused
``InstanceNormalization`` ops.

Padding: the network needs sides that are multiples of 4; the graph pads by
reflection and crops back itself, with the pad size computed from the input
shape, so any H, W >= 8 work (the torch tracer would otherwise freeze the
pad of the example input into the graph).

The model's painterly metadata JSON (the same as in the ``.safetensors``
file, plus an ``"onnx"`` entry describing the inputs) is stored in the
model's ``metadata_props`` under ``"painterly"``, so :func:`painterly.models.
checkpoints.read_model_info` and ``painterly models`` treat both kinds alike.

Needs ``torch`` and the ``onnx`` package (``pip install painterly[export]``).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Union

from ..errors import UsageError
from ..onnx_support import require_onnx

#: Opset of the exported graphs.
OPSET = 17
#: Names of the graph's inputs and outputs.
IMAGE, STYLE_WEIGHTS, NORM_STATS = "image", "style_weights", "norm_stats"
USE_NORM_STATS, RECORD_NORM_STATS = "use_norm_stats", "record_norm_stats"
STYLIZED, IMAGE_NORM_STATS = "stylized", "image_norm_stats"
#: Export-time side size of the example input (a multiple of 4, so the
#: network's own Python-level padding is traced as "no padding needed",
#: which is what the graph's own padding guarantees).
_EXAMPLE_SIZE = 64


def _wrapper(net: Any, stats: Any) -> Any:
    """A module tracing the three paths: plain, plain + own statistics, given statistics."""
    import torch
    import torch.nn.functional as F

    n_styles = net.n_styles

    class Paths(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def _pad(self, image: torch.Tensor) -> Any:
            h, w = image.shape[2], image.shape[3]
            # Pad a constant 3 and crop to the next multiple of 4: the same
            # pixels as the network's own reflect pad, but the crop size is
            # traced from the input shape instead of frozen.
            padded = F.pad(image, (0, 3, 0, 3), mode="reflect")
            return padded[:, :, : (h + 3) // 4 * 4, : (w + 3) // 4 * 4], h, w

        def forward(self, image: torch.Tensor, *rest: torch.Tensor) -> Any:
            weights = rest[0] if n_styles > 1 else None
            given = rest[-1]
            padded, h, w = self._pad(image)
            plain = self.net(padded, weights)[:, :, :h, :w]
            stats.mode, stats.recorded = "observe", []
            observed = self.net(padded, weights)[:, :, :h, :w]
            own = stats.take_recorded()
            stats.mode, stats.given = "fixed", given
            fixed = self.net(padded, weights)[:, :, :h, :w]
            stats.mode, stats.given = "off", None
            return plain, observed, own, fixed

    return Paths()


def _ancestors(graph: Any, names: Sequence[str]) -> Set[int]:
    """Indices of the nodes of ``graph`` that ``names`` depend on."""
    producer: Dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for out in node.output:
            producer[out] = i
    seen: Set[int] = set()
    stack = [producer[n] for n in names if n in producer]
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack.extend(producer[v] for v in graph.node[i].input if v in producer)
    return seen


def _split_into_ifs(model: Any, k: int) -> Any:
    """Rewrite the traced four-output graph into the ``If`` form of the module docstring.

    Nodes that only one path needs move into that path's branch; nodes that
    several paths share (the padding, ...) stay in the main graph, where
    the branches see them (and the weight initializers) from the outer scope.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    plain_out, observed_out, own_out, fixed_out = (o.name for o in graph.output)
    paths = {
        "plain": _ancestors(graph, [plain_out]),
        "record": _ancestors(graph, [observed_out, own_out]),
        "fixed": _ancestors(graph, [fixed_out]),
    }
    counts: Dict[int, int] = {}
    for members in paths.values():
        for i in members:
            counts[i] = counts.get(i, 0) + 1
    shared = {i for i, c in counts.items() if c > 1}
    nodes = list(graph.node)

    def branch(name: str, path: str, outputs: List[str], extra: Sequence[Any] = ()) -> Any:
        body = [nodes[i] for i in range(len(nodes)) if i in paths[path] and i not in shared]
        return helper.make_graph(
            body + list(extra), name, inputs=[],
            outputs=[helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        )

    def passthrough(name: str) -> Any:
        return helper.make_node("Identity", [NORM_STATS], [name], name=f"{name}_identity")

    plain = branch("own_norm", "plain", [plain_out, "plain_norm_stats"], [passthrough("plain_norm_stats")])
    record = branch("own_norm_recorded", "record", [observed_out, own_out])
    fixed = branch("given_norm", "fixed", [fixed_out, "given_norm_stats"], [passthrough("given_norm_stats")])
    inner = helper.make_node(
        "If", [RECORD_NORM_STATS], ["unfixed_stylized", "unfixed_norm_stats"], name="record_or_not",
        then_branch=record, else_branch=plain,
    )
    unfixed = helper.make_graph(
        [inner], "own_norm_any", inputs=[],
        outputs=[helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                 for o in ("unfixed_stylized", "unfixed_norm_stats")],
    )
    outer = helper.make_node(
        "If", [USE_NORM_STATS], [STYLIZED, IMAGE_NORM_STATS], name="given_or_own_norm",
        then_branch=fixed, else_branch=unfixed,
    )
    main_nodes = [nodes[i] for i in range(len(nodes)) if i in shared] + [outer]

    inputs = [i for i in graph.input if i.name in (IMAGE, STYLE_WEIGHTS)]
    inputs.append(helper.make_tensor_value_info(NORM_STATS, TensorProto.FLOAT, [1, k]))
    inputs.append(helper.make_tensor_value_info(USE_NORM_STATS, TensorProto.BOOL, []))
    inputs.append(helper.make_tensor_value_info(RECORD_NORM_STATS, TensorProto.BOOL, []))
    outputs = [
        helper.make_tensor_value_info(STYLIZED, TensorProto.FLOAT, ["batch", 3, "height", "width"]),
        helper.make_tensor_value_info(IMAGE_NORM_STATS, TensorProto.FLOAT, [None, k]),
    ]
    # An initializer named like an input is that input's default value, so
    # the norm-stats inputs may be left out (ONNX IR >= 4).
    defaults = [
        numpy_helper.from_array(np.zeros((1, k), dtype=np.float32), NORM_STATS),
        numpy_helper.from_array(np.array(False), USE_NORM_STATS),
        numpy_helper.from_array(np.array(False), RECORD_NORM_STATS),
    ]
    new_graph = helper.make_graph(
        main_nodes, graph.name or "painterly", inputs, outputs,
        initializer=list(graph.initializer) + defaults,
    )
    out = helper.make_model(new_graph, opset_imports=model.opset_import, producer_name="painterly")
    out.ir_version = model.ir_version
    onnx.checker.check_model(out)
    return out


def onnx_bytes(net: Any, meta: Dict[str, Any]) -> bytes:
    """The bytes of the ``.onnx`` file for ``net`` with painterly metadata ``meta``.

    Args:
        net: a :class:`~painterly.models.transformer.StyleNetwork` (any device).
        meta: its metadata dict (``ModelInfo.meta`` or
            :func:`~painterly.models.checkpoints.make_meta`).
    """
    import copy

    import torch

    onnx = require_onnx()
    from .norm_stats import NormStats

    # A private CPU copy: NormStats patches the norm modules of the net it is given.
    net = copy.deepcopy(net).to("cpu", torch.float32).eval()
    stats = NormStats(net)
    k, n = stats.size, net.n_styles
    example = [torch.rand(1, 3, _EXAMPLE_SIZE, _EXAMPLE_SIZE)]
    names = [IMAGE]
    if n > 1:
        example.append(torch.full((1, n), 1.0 / n))
        names.append(STYLE_WEIGHTS)
    example.append(torch.zeros(1, k))
    names.append(NORM_STATS)
    spatial = {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter is deprecated in favour of the dynamo one,
        # which needs onnxscript; it also warns that instance_norm exports
        # with train=True, which is right: instance norm always uses the
        # statistics of its input.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _wrapper(net, stats), tuple(example), buffer, dynamo=False, opset_version=OPSET,
            input_names=names, output_names=["plain", "observed", "own_stats", "fixed"],
            dynamic_axes={
                IMAGE: spatial, "plain": spatial, "observed": spatial, "fixed": spatial, "own_stats": {0: "batch"}
            },
        )
    model = _split_into_ifs(onnx.load_from_string(buffer.getvalue()), k)
    full = dict(meta)
    full.update(architecture=net.architecture, options=dict(net.options))
    full["onnx"] = {
        "opset": OPSET,
        "inputs": names[:-1] + [NORM_STATS, USE_NORM_STATS, RECORD_NORM_STATS],
        "outputs": [STYLIZED, IMAGE_NORM_STATS],
        "norm_stats_size": k,
    }
    onnx.helper.set_model_props(model, {"painterly": json.dumps(full, sort_keys=True)})
    model.doc_string = (
        f"painterly feed-forward style network ({net.architecture}, styles: {', '.join(full.get('styles', []))}). "
        "Input 'image' B x 3 x H x W RGB in [0, 1]; output 'stylized' the same."
    )
    return model.SerializeToString()


def export_onnx(
    model: Union[str, "os.PathLike[str]", Any],
    path: Union[str, "os.PathLike[str]"],
    *,
    meta: Optional[Dict[str, Any]] = None,
) -> Path:
    """Export a model to an ONNX file, atomically.

    Args:
        model: a model name or ``.safetensors`` path (loaded with
            :func:`~painterly.models.checkpoints.load_model`), or a
            ``StyleNetwork``.
        path: destination ending in ``.onnx``; its folder must exist.
        meta: metadata of a ``StyleNetwork`` passed directly (default:
            :func:`~painterly.models.checkpoints.make_meta` with styles named
            ``style0, style1, ...``); ignored for a loaded model, whose own
            metadata is kept.

    Returns:
        The path written.

    Raises:
        ModelError: unknown or unusable model, or the onnx package is missing.
        UsageError: ``path`` does not end in ``.onnx``.
        OutputError: the file cannot be written (an old file is then untouched).
    """
    from ..imaging.io import write_atomic
    from ..models.checkpoints import load_model, make_meta

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise UsageError(f"ONNX models end in .onnx, not '{path.suffix or '(none)'}': {path}")
    require_onnx()
    if isinstance(model, (str, os.PathLike)):
        net, info = load_model(model, "cpu")
        meta = info.meta
    else:
        net = model
        if meta is None:
            meta = make_meta(net, [f"style{i}" for i in range(net.n_styles)])
    return write_atomic(path, onnx_bytes(net, meta))


__all__ = [
    "IMAGE",
    "IMAGE_NORM_STATS",
    "NORM_STATS",
    "OPSET",
    "RECORD_NORM_STATS",
    "STYLE_WEIGHTS",
    "STYLIZED",
    "USE_NORM_STATS",
    "export_onnx",
    "onnx_bytes",
]
