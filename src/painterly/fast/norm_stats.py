"""Shared instance-norm statistics for tiled inference (torch side).

A style network normalizes every feature map by its own per-channel mean and
variance over H x W (instance norm). Run tile by tile, each tile would be
normalized by *its* statistics, so a tile of sky and a tile of street come
out with different contrast and colour casts, which feathering can only
smear, not remove. :class:`NormStats` makes every
:class:`~painterly.models.transformer.CondInstanceNorm` of a network either

* ``"observe"``: normalize as usual and remember (mean, var) per channel, or
* ``"fixed"``: normalize with (mean, var) given from outside,

so the runner records the statistics once on the whole image (downscaled to
one tile) and replays them for every tile. The flat layout of the statistics
(for each norm layer in module order: C means, then C variances) is the same
as the ONNX graph's ``norm_stats`` input and output (see
:mod:`painterly.fast.onnx_export`), so both backends share it.

The network's class is not changed: each norm module's ``forward`` is
overridden on the instance (not the class). ``"off"`` and ``"observe"`` call
``CondInstanceNorm.forward`` itself; ``"fixed"`` recomputes what it does
(``F.instance_norm``, i.e. ``(x - mean) / sqrt(var + eps)`` with the biased
variance, then ``* weights @ gamma + weights @ beta``) with the given
statistics. That recomputation depends on CondInstanceNorm's ``weight``,
``bias`` and ``eps`` attributes; tests/test_stylize.py checks that fixing a
network's own statistics reproduces its plain forward.
"""

from __future__ import annotations

from typing import Any, List, Optional

import torch
import torch.nn as nn

from ..models.transformer import CondInstanceNorm

#: Modes of :class:`NormStats`.
MODES = ("off", "observe", "fixed")


class NormStats:
    """Switchable statistics for the instance norms of one network.

    Args:
        net: a :class:`~painterly.models.transformer.StyleNetwork`; its
            ``CondInstanceNorm`` modules get an instance-level ``forward``.

    Attributes:
        mode: ``"off"`` (the network's own forward), ``"observe"`` (the
            own forward, with the statistics recorded on the side) or
            ``"fixed"`` (normalize with ``given``).
        size: K, the length of the flat statistics vector (2 x the channels of
            all norm layers).
    """

    def __init__(self, net: nn.Module) -> None:
        self.norms: List[CondInstanceNorm] = [m for m in net.modules() if isinstance(m, CondInstanceNorm)]
        self.mode = "off"
        self.given: Optional[torch.Tensor] = None  # (B or 1, K)
        self.recorded: List[torch.Tensor] = []
        self._offsets: List[int] = []
        offset = 0
        for index, module in enumerate(self.norms):
            self._offsets.append(offset)
            offset += 2 * module.weight.shape[1]
            module.forward = self._make_forward(module, index)  # type: ignore[method-assign]
        self.size = offset

    def _make_forward(self, module: CondInstanceNorm, index: int) -> Any:
        original = type(module).forward.__get__(module)
        channels = module.weight.shape[1]

        def forward(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
            if self.mode == "off":
                return original(x, weights)
            if self.mode == "observe":  # the network's own normalization, statistics on the side
                var, mean = torch.var_mean(x, dim=(2, 3), unbiased=False)
                self.recorded.append(torch.cat([mean, var], dim=1))
                return original(x, weights)
            # "fixed": normalize with the given statistics instead of x's own.
            assert self.given is not None
            start = self._offsets[index]
            stats = self.given[:, start:start + 2 * channels].to(x.dtype)
            mean, var = stats[:, :channels, None, None], stats[:, channels:, None, None]
            gamma = (weights @ module.weight).to(x.dtype)[:, :, None, None]
            beta = (weights @ module.bias).to(x.dtype)[:, :, None, None]
            return (x - mean) * torch.rsqrt(var + module.eps) * gamma + beta

        return forward

    def take_recorded(self) -> torch.Tensor:
        """The statistics recorded since the last call, flat (B, K)."""
        stats = torch.cat(self.recorded, dim=1) if self.recorded else torch.zeros(1, 0)
        self.recorded = []
        return stats

    def record(self, net: nn.Module, x: torch.Tensor, style_weights: Any = None) -> torch.Tensor:
        """Run ``net`` on ``x`` and return its instance-norm statistics, (B, K) float32."""
        self.mode, self.recorded = "observe", []
        try:
            net(x, style_weights)
        finally:
            self.mode = "off"
        return self.take_recorded()

    def run_fixed(self, net: nn.Module, x: torch.Tensor, stats: torch.Tensor, style_weights: Any = None) -> torch.Tensor:
        """Run ``net`` on ``x`` normalizing with ``stats`` (1 x K or B x K) instead of x's own."""
        if stats.shape[-1] != self.size:
            raise ValueError(f"norm statistics have {stats.shape[-1]} values, the network needs {self.size}")
        self.mode, self.given = "fixed", stats.reshape(-1, self.size)
        try:
            return net(x, style_weights)
        finally:
            self.mode, self.given = "off", None


__all__ = ["MODES", "NormStats"]
