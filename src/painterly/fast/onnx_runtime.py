"""Run an exported ``.onnx`` model with onnxruntime and numpy only: no torch import.

``painterly stylize --model m.onnx`` goes through here and starts in a
fraction of the time the torch path needs (torch's import alone is over a
second). The graph's inputs and outputs are described in
:mod:`painterly.fast.onnx_export`; models exported by other tools work too
if they carry painterly metadata, with tiles then normalized per tile.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ..onnx_graph import without_inputs
from ..onnx_support import make_session
from ..models.checkpoints import META_KEY, ModelInfo, parse_meta

#: Tile origins are multiples of the networks' total stride.
ALIGN = 4
#: The inputs that let tiles share instance-norm statistics (see :mod:`painterly.fast.onnx_export`).
STATS_INPUTS = ("norm_stats", "use_norm_stats", "record_norm_stats")
#: Smallest side the graphs take (their 1/4-resolution reflect pads need 2 px).
MIN_SIZE = 8


class OnnxStylizer:
    """A loaded ``.onnx`` model run with onnxruntime; same interface as :class:`~painterly.fast.torch_runtime.TorchStylizer`.

    Args:
        path: the ``.onnx`` file.
        device: ``cpu`` or ``cuda[:N]``.
        threads: intra-op threads (0: onnxruntime's default, all cores).

    Attributes:
        info: :class:`~painterly.models.checkpoints.ModelInfo` read from the
            session's metadata (the file is parsed once, by onnxruntime).
        backend: ``"onnx"``.
        align: tile origins are multiples of this (4).
        supports_norm_stats: whether the graph has the optional
            ``norm_stats`` / ``use_norm_stats`` / ``record_norm_stats``
            inputs (graphs exported by other tools: tiles then use their own
            statistics).
    """

    backend = "onnx"
    align = ALIGN

    def __init__(self, path: Union[str, "os.PathLike[str]"], device: str = "cpu", threads: int = 0) -> None:
        self.path = Path(path)
        self._device, self._threads = device, threads
        # Whole pictures run a copy whose statistics switches are constants (their
        # branch inlined, about a third faster); tiles sharing statistics load the
        # file as it is, on first use.
        try:
            data = self.path.read_bytes()
            plain, dropped = without_inputs(data, STATS_INPUTS)
        except (OSError, ValueError):  # unreadable or not protobuf: make_session says so
            plain, dropped = None, set()
        self.supports_norm_stats = dropped == set(STATS_INPUTS)
        self.session = make_session(self.path, device, threads, plain if self.supports_norm_stats else None)
        self._stats_session: Any = None if self.supports_norm_stats else self.session
        self._loading = threading.Lock()
        meta_map = self.session.get_modelmeta().custom_metadata_map
        meta = parse_meta(meta_map.get(META_KEY), self.path)
        self.info = ModelInfo(
            path=self.path,
            name=self.path.stem,
            kind=str(meta["kind"]),
            architecture=str(meta.get("architecture", "")),
            options=dict(meta.get("options", {})),
            styles=list(meta["styles"]),
            size_bytes=self.path.stat().st_size,
            meta=meta,
        )
        names = {i.name for i in self.session.get_inputs()}
        names |= {i.name for i in self.session.get_overridable_initializers()}
        self._has_weights = "style_weights" in names
        outputs = [o.name for o in self.session.get_outputs()]
        self._output = "stylized" if "stylized" in outputs else outputs[0]
        self._stats_output = "image_norm_stats" if "image_norm_stats" in outputs else None

    def _feed(self, batch: np.ndarray, style_weights: Optional[np.ndarray]) -> dict:
        feed: dict = {"image": np.ascontiguousarray(batch, dtype=np.float32)}
        if self._has_weights:
            n = len(self.info.styles)
            if style_weights is None:
                style_weights = np.eye(1, n, dtype=np.float32)[0]
            feed["style_weights"] = np.asarray(style_weights, np.float32).reshape(1, n)
        return feed

    @staticmethod
    def _pad_small(batch: np.ndarray) -> Any:
        # Sides under MIN_SIZE: pad the way StyleNetwork does (reflect, or
        # edge when the image is too small to reflect), so both backends agree.
        h, w = batch.shape[-2:]
        if h >= MIN_SIZE and w >= MIN_SIZE:
            return batch, h, w
        ph = max(MIN_SIZE, -(-h // ALIGN) * ALIGN) - h
        pw = max(MIN_SIZE, -(-w // ALIGN) * ALIGN) - w
        mode = "reflect" if ph < h and pw < w else "edge"
        return np.pad(batch, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode), h, w

    def __call__(
        self,
        batch: np.ndarray,
        style_weights: Optional[np.ndarray] = None,
        norm_stats: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        """Stylize a batch: float32 (B, 3, H, W) in [0, 1] -> the same shape (see TorchStylizer)."""
        batch, h, w = self._pad_small(batch)
        feed = self._feed(batch, style_weights)
        session = self.session
        if norm_stats is not None and self.supports_norm_stats:
            feed["norm_stats"] = np.asarray(norm_stats, np.float32).reshape(1, -1)
            feed["use_norm_stats"] = np.array(True)
            session = self._with_stats()
        out = session.run([self._output], feed)[0]
        return out[:, :, :h, :w]

    def _with_stats(self) -> Any:
        """The session whose statistics inputs can be set (the file as it is)."""
        with self._loading:  # two lanes may tile at once
            if self._stats_session is None:
                self._stats_session = make_session(self.path, self._device, self._threads)
        return self._stats_session

    def norm_stats(self, batch: np.ndarray, style_weights: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        """The instance-norm statistics on ``batch`` (B, K), or None when the graph cannot report them."""
        if not self.supports_norm_stats or self._stats_output is None:
            return None
        batch, _, _ = self._pad_small(batch)
        feed = self._feed(batch, style_weights)
        feed["record_norm_stats"] = np.array(True)
        import onnxruntime as ort

        # The statistics pass runs on a picture several times a tile's size; give its
        # activations back to the system afterwards instead of keeping them reserved
        # for the tiles (a 24-megapixel photo peaked 0.6 GB higher).
        shrink = ort.RunOptions()
        shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        return self._with_stats().run([self._stats_output], feed, shrink)[0]


__all__ = ["OnnxStylizer"]
