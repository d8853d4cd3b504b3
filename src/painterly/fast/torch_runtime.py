"""Run a feed-forward ``.safetensors`` model with torch, behind the numpy interface of the stylizers.

The onnxruntime twin is :mod:`painterly.fast.onnx_runtime`; both take and give
numpy arrays so that :mod:`painterly.fast.tiling` and
:mod:`painterly.fast.stylize` drive either one the same way.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import numpy as np
import torch

from ..models.checkpoints import load_model
from ..models.transformer import SIZE_MULTIPLE
from ..models.device import torch_device
from .norm_stats import NormStats


class TorchStylizer:
    """A loaded feed-forward model run with torch.

    Args:
        model: a ``.safetensors`` model file or a model name.
        device: torch device (torch's thread count is process-wide: the host
            program sets it, see :func:`painterly.set_threads`).

    Attributes:
        info: the model's :class:`~painterly.models.checkpoints.ModelInfo`.
        backend: ``"torch"``.
        align: the network's total stride in px (tile origins are multiples of it).
        supports_norm_stats: True: tiles can share instance-norm statistics.
        net: the ``StyleNetwork`` (eval mode; its norm layers are switched by
            a private :class:`~painterly.fast.norm_stats.NormStats`).
    """

    backend = "torch"
    align = SIZE_MULTIPLE
    supports_norm_stats = True

    def __init__(self, model: Union[str, "os.PathLike[str]"], device: str = "cpu") -> None:
        self.device = torch_device(device)
        self.net, self.info = load_model(model, self.device)
        self.net.requires_grad_(False)
        self._stats = NormStats(self.net)

    @property
    def norm_stats_size(self) -> int:
        """K, the length of the flat statistics vector."""
        return self._stats.size

    def _inputs(self, batch: np.ndarray, style_weights: Optional[np.ndarray]) -> Any:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        w = None if style_weights is None else torch.from_numpy(np.asarray(style_weights, np.float32)).to(self.device)
        return x, w

    def __call__(
        self,
        batch: np.ndarray,
        style_weights: Optional[np.ndarray] = None,
        norm_stats: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        """Stylize a batch.

        Args:
            batch: float32 (B, 3, H, W) RGB in [0, 1].
            style_weights: (N,) or (B, N) blend weights; None = style 0.
            norm_stats: (1, K) statistics from :meth:`norm_stats` to normalize
                with instead of the batch's own.

        Returns:
            float32 (B, 3, H, W) in [0, 1].
        """
        x, w = self._inputs(batch, style_weights)
        with torch.inference_mode():
            if norm_stats is None:
                y = self.net(x, w)
            else:
                stats = torch.from_numpy(np.asarray(norm_stats, np.float32)).to(self.device)
                y = self._stats.run_fixed(self.net, x, stats, w)
        return y.to("cpu", torch.float32).numpy()

    def norm_stats(self, batch: np.ndarray, style_weights: Optional[np.ndarray] = None) -> np.ndarray:
        """The instance-norm statistics of the network on ``batch``: float32 (B, K)."""
        x, w = self._inputs(batch, style_weights)
        with torch.inference_mode():
            stats = self._stats.record(self.net, x, w)
        return stats.to("cpu", torch.float32).numpy()


__all__ = ["TorchStylizer"]
