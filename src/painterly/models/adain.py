"""Arbitrary style transfer in one pass: adaptive instance normalization (Huang & Belongie 2017).

The network is the VGG19 encoder ``f`` up to ``relu4_1`` (shared, frozen,
never saved: :func:`painterly.models.vgg.shared_vgg19`), an AdaIN layer and a
trained :class:`Decoder` ``g`` that mirrors the encoder::

    t = AdaIN(f(c), f(s)) = sigma(f(s)) * (f(c) - mu(f(c))) / sigma(f(c)) + mu(f(s))
    T(c, s) = g(t)

``mu`` and ``sigma`` are per-channel mean and standard deviation over the
spatial positions of each image. Any painting works as ``s``; only the
decoder is learned (see :mod:`painterly.arbitrary.train`).

Controls (section 7 of the paper), all on ``t`` before decoding:

* content-style trade-off: ``t = alpha * AdaIN(f(c), f(s)) + (1 - alpha) * f(c)``,
  so ``alpha = 0`` is the decoder's reconstruction of the content;
* style interpolation: ``t = sum_k w_k AdaIN(f(c), f(s_k))`` (Fig. 8);
* spatial control: with a mask ``m`` (1 = first style) each region is
  normalized with the content statistics of that region only, weighted by
  ``m`` or ``1 - m``, and the two targets are combined by ``m`` at
  ``relu4_1`` resolution (the paper computes the statistics over the
  region's positions; a soft mask weights them, a binary one is the same).

Departures from the paper, and why:

* The decoder has no final activation, as in the paper, and is trained
  unclamped (clamping in training would zero the gradient of every pixel
  outside [0, 1] and let them drift); :meth:`AdaINModel.stylize` clamps its
  output to [0, 1]. A sigmoid would make [0, 1] hold by construction, but
  saturates: strongly coloured styles sit near 0 or 1 where its gradient
  vanishes, and the paper's results were obtained without it.
* The encoder is painterly's Caffe VGG19 (BGR, 0..255, mean-subtracted
  inside :class:`~painterly.models.vgg.VGG19`) rather than the paper's
  "normalised" VGG; both have the same architecture, the activations here
  are larger by a per-channel factor, which the losses of
  :mod:`painterly.arbitrary.train` normalise away.
* Content images are padded (reflection) to a multiple of 8 px, the
  encoder's stride, and the output is cropped back, so any size works and
  the output has exactly the input's size.
* ``sigma`` is ``sqrt(var + eps)`` with the population variance (divide by
  ``N``; the reference code uses the unbiased one, a factor ``N/(N-1)``
  that cancels in AdaIN whenever content and style are treated alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError, ImageError, ModelError
from .checkpoints import load_model, make_meta, save_model

from .adain_constants import ARCHITECTURE, BORDER, DECODER_UPSAMPLING, ENCODER_LAYER, EPS, KIND, MIN_SIZE, STRIDE, STYLE_LAYERS  # noqa: F401

# (name, in channels, out channels, upsample x2 after it); the last has no ReLU.
_DECODER_LAYERS = (
    ("conv4_1", 512, 256, True),
    ("conv3_4", 256, 256, False),
    ("conv3_3", 256, 256, False),
    ("conv3_2", 256, 256, False),
    ("conv3_1", 256, 128, True),
    ("conv2_2", 128, 128, False),
    ("conv2_1", 128, 64, True),
    ("conv1_2", 64, 64, False),
    ("conv1_1", 64, 3, False),
)


def channel_stats(
    features: torch.Tensor, eps: float = EPS, weight: Optional[torch.Tensor] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation over the spatial positions.

    Args:
        features: B x C x H x W.
        eps: added to the variance before the square root.
        weight: optional B x 1 x H x W (or 1 x 1 x H x W) non-negative
            weights: the statistics of the weighted positions (a 0/1 mask
            gives those of the region). All-zero weights give mean 0, std
            ``sqrt(eps)``.

    Returns:
        ``(mean, std)``, each B x C x 1 x 1, computed in float32 at least.
    """
    if features.dim() != 4:
        raise ImageError(f"features must be B x C x H x W, got shape {tuple(features.shape)}")
    f = features.float() if features.dtype in (torch.float16, torch.bfloat16) else features
    if weight is None:
        mean = f.mean(dim=(2, 3), keepdim=True)
        var = (f - mean).pow(2).mean(dim=(2, 3), keepdim=True)
    else:
        w = weight.to(f.dtype)
        total = w.sum(dim=(2, 3), keepdim=True).clamp_min(1e-8)
        mean = (f * w).sum(dim=(2, 3), keepdim=True) / total
        var = ((f - mean).pow(2) * w).sum(dim=(2, 3), keepdim=True) / total
    return mean, (var + eps).sqrt()


def adain(content_feat: torch.Tensor, style_feat: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Adaptive instance normalization: the content's features with the style's channel statistics.

    Args:
        content_feat: B x C x H x W.
        style_feat: B x C x H' x W' (or 1 x C x H' x W', shared by the batch);
            the spatial size may differ from the content's.
        eps: variance epsilon.

    Returns:
        A new B x C x H x W tensor whose channel means are the style's and
        whose channel standard deviations are the style's times
        ``sqrt(var_c / (var_c + eps))`` (equal up to ``eps``).
    """
    if content_feat.dim() != 4 or style_feat.dim() != 4:
        raise ImageError(
            f"adain takes B x C x H x W features, got {tuple(content_feat.shape)} and {tuple(style_feat.shape)}"
        )
    if style_feat.shape[1] != content_feat.shape[1] or style_feat.shape[0] not in (1, content_feat.shape[0]):
        raise ImageError(
            f"content features {tuple(content_feat.shape)} and style features {tuple(style_feat.shape)} "
            "differ in channels or batch size"
        )
    c_mean, c_std = channel_stats(content_feat, eps)
    s_mean, s_std = channel_stats(style_feat, eps)
    return normalize_to(content_feat, c_mean, c_std, s_mean, s_std)


def normalize_to(
    features: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    target_mean: torch.Tensor,
    target_std: torch.Tensor,
) -> torch.Tensor:
    """``(features - mean) / std * target_std + target_mean`` (all statistics B x C x 1 x 1)."""
    out = (features.to(mean.dtype) - mean) / std * target_std + target_mean
    return out.to(features.dtype) if features.is_floating_point() else out


@dataclass(frozen=True)
class StyleStats:
    """A style image's ``relu4_1`` channel statistics: all AdaIN needs of it.

    Attributes:
        mean: 1 x 512 x 1 x 1.
        std: 1 x 512 x 1 x 1.
    """

    mean: torch.Tensor
    std: torch.Tensor


StyleInput = Union[torch.Tensor, StyleStats]


def _conv(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3)


class Decoder(nn.Module):
    """The AdaIN decoder: VGG19 up to ``relu4_1`` mirrored (Huang & Belongie 2017, section 6.1).

    ``conv 512->256, up x2, 3 x conv 256, conv 256->128, up x2, conv 128,
    conv 128->64, up x2, conv 64, conv 64->3``: 3 x 3 convolutions with
    reflection padding 1, ReLU after each but the last, nearest-neighbour
    (the paper's) or bilinear upsampling, no normalization layers. Layer names mirror the encoder's
    (``conv4_1`` undoes ``relu4_1``'s conv, ..., ``conv1_1`` gives RGB).

    Input B x 512 x h x w; output B x 3 x 8h x 8w, RGB meant to lie in
    [0, 1] but not clamped (no final activation, see the module docstring).
    3.5 M parameters at ``width`` 1 (the paper's).

    ``width`` scales every inner channel count (256/128/64 at 1). The CPU
    recipe uses 0.5 (0.9 M parameters): the decoder's share of a training
    step drops about 4x, and of a stylization likewise, while the encoder
    (fixed) keeps the features it decodes.

    ``upsample`` (:data:`DECODER_UPSAMPLING`) only changes how the maps are
    enlarged, not the weights' shapes, so a decoder trained with one mode can
    be fine-tuned with the other (``train-adain --resume --upsample``).

    Attributes:
        kind, architecture, options, n_styles: what the model file records
            (``"adain"``, ``"adain-vgg19"``, ``{}`` or ``{"width": w, "upsample": m}``
            with the defaults left out, 0:
            the style comes from an image, not from the weights).
    """

    kind = KIND
    architecture = ARCHITECTURE
    n_styles = 0

    def __init__(self, width: float = 1.0, upsample: str = "nearest", **options: Any) -> None:
        super().__init__()
        if options:
            raise ConfigError(
                f"the {ARCHITECTURE} decoder takes only the options 'width' and 'upsample', "
                f"got {', '.join(sorted(options))}"
            )
        if not (isinstance(width, (int, float)) and 0.125 <= width <= 2):
            raise ConfigError(f"decoder width must be between 0.125 and 2, not {width!r}")
        if upsample not in DECODER_UPSAMPLING:
            raise ConfigError(f"decoder upsampling must be one of {', '.join(DECODER_UPSAMPLING)}, not {upsample!r}")
        # Defaults are left out, so files written before an option existed read the same.
        self.options: Dict[str, Any] = {} if width == 1.0 else {"width": float(width)}
        if upsample != "nearest":
            self.options["upsample"] = upsample
        self.upsample = upsample

        def channels(n: int) -> int:
            # The input (512, relu4_1) and the output (RGB) are fixed; the inside scales.
            return n if n in (3, 512) else max(8, int(round(n * width)))

        self.convs = nn.ModuleDict(
            {name: _conv(channels(c_in), channels(c_out)) for name, c_in, c_out, _ in _DECODER_LAYERS}
        )
        self._upsample = {name: up for name, _, _, up in _DECODER_LAYERS}

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Decode ``t`` (B x 512 x h x w, h, w >= 2) to RGB B x 3 x 8h x 8w (unclamped)."""
        if t.dim() != 4 or t.shape[1] != 512:
            raise ImageError(f"the decoder takes B x 512 x h x w features, got {tuple(t.shape)}")
        x = t
        last = _DECODER_LAYERS[-1][0]
        enlarge = False  # the previous layer asked for a x2 upsampling, not yet done
        for name, conv in self.convs.items():
            if enlarge and self.upsample == "nearest":
                x = conv_after_nearest_upsample(x, conv)
            else:
                if enlarge:
                    x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                x = conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))
            if name != last:
                x = F.relu(x)
            enlarge = self._upsample[name]
        return x


#: The four output phases of a x2 upsampling, (row parity, column parity), in DepthToSpace's channel order.
_PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))


def _fold_taps(kernel: torch.Tensor, dim: int, odd: int) -> torch.Tensor:
    """A 3-tap kernel axis as the 2 taps one parity of a x2 nearest upsampling sees: even output
    rows (or columns) read input (i-1, i, i) -> (i-1, i), odd ones (i, i, i+1) -> (i, i+1)."""
    t0, t1, t2 = kernel.unbind(dim)
    return torch.stack((t0 + t1, t2) if odd else (t0, t1 + t2), dim)


def conv_after_nearest_upsample(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(reflect_pad_1(nearest_upsample_x2(x)))`` for a 3 x 3 ``conv``, in 16 instead of 36 MACs a weight.

    Each output pixel of a 3 x 3 convolution over a nearest-upsampled map
    reads only 2 x 2 distinct input pixels, which phase ``(a, b)`` (its row
    and column parity) weights with the kernel's taps summed along the
    repeated rows and columns. Reflection padding by 1 of the upsampled map
    equals replicate padding of ``x``, so one 2 x 2 convolution of the
    replicate-padded ``x`` with the four phases' kernels (4 x the output
    channels) gives every phase, offset by ``(a, b)``; interleaving them
    (DepthToSpace) is the result. Equal up to float rounding; the decoder
    spends 42% of its multiply-adds in the three convolutions that follow an
    upsampling, and this skips 5/9 of those and the upsampled map itself.

    Args:
        x: B x C x h x w.
        conv: 3 x 3 convolution without padding, C -> C_out.

    Returns:
        B x C_out x 2h x 2w.
    """
    w = conv.weight  # C_out x C x 3 x 3
    b, _, h, wd = x.shape
    kernels = [_fold_taps(_fold_taps(w, 2, row), 3, col) for row, col in _PHASES]  # each C_out x C x 2 x 2
    bias = conv.bias.repeat(4) if conv.bias is not None else None
    z = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), torch.cat(kernels), bias)  # B x 4 C_out x h+1 x w+1
    c_out = w.shape[0]
    phases = [z[:, k * c_out:(k + 1) * c_out, row:row + h, col:col + wd] for k, (row, col) in enumerate(_PHASES)]
    # pixel_shuffle wants channel c * 4 + (row parity * 2 + column parity).
    return F.pixel_shuffle(torch.stack(phases, 2).reshape(b, 4 * c_out, h, wd), 2)


def _pad_to_stride(image: torch.Tensor, border: int = 0) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """Mirror ``border`` px outwards on every side, then pad right/bottom to a multiple of
    :data:`STRIDE`; returns the padded image and the original (H, W)."""
    h, w = image.shape[-2:]
    if border:
        # Reflection needs the padding smaller than the image; a tiny image repeats its edge.
        mode = "reflect" if border < min(h, w) else "replicate"
        image = F.pad(image, (border, border, border, border), mode=mode)
    ph, pw = (-image.shape[-2]) % STRIDE, (-image.shape[-1]) % STRIDE
    if ph == 0 and pw == 0:
        return image, (h, w)
    mode = "reflect" if ph < image.shape[-2] and pw < image.shape[-1] else "replicate"
    return F.pad(image, (0, pw, 0, ph), mode=mode), (h, w)


class AdaINModel(nn.Module):
    """A trained decoder plus the shared frozen VGG19 encoder: stylize with any painting.

    Args:
        decoder: the :class:`Decoder` (a fresh, untrained one by default).

    The VGG19 is not a submodule: it is not in ``state_dict`` (the model
    file holds only the decoder) and follows the decoder's device at each
    call (:func:`~painterly.models.vgg.shared_vgg19` keeps one per device).
    """

    def __init__(self, decoder: Optional[Decoder] = None) -> None:
        super().__init__()
        self.decoder = decoder if decoder is not None else Decoder()

    @property
    def device(self) -> torch.device:
        return next(self.decoder.parameters()).device

    @property
    def vgg(self) -> nn.Module:
        from .vgg import shared_vgg19

        return shared_vgg19("max", self.device)

    @classmethod
    def load(cls, name_or_path: Any = "adain", device: Any = "cpu") -> Tuple["AdaINModel", Any]:
        """Load a model file by path or name (see :func:`painterly.models.checkpoints.find_model`).

        Returns:
            ``(model in eval mode, ModelInfo)``.

        Raises:
            ModelError: not found, corrupt, or not an AdaIN model.
        """
        decoder, info = load_model(name_or_path, device=device, kind=KIND)
        return cls(decoder).eval(), info

    def encode(self, image: torch.Tensor, layers: Sequence[str] = (ENCODER_LAYER,)) -> Dict[str, torch.Tensor]:
        """VGG19 features of ``image`` (B x 3 x H x W, RGB [0, 1]) at ``layers``."""
        return self.vgg(image, layers)

    def decode(self, t: torch.Tensor) -> torch.Tensor:
        """The decoder's raw output for ``t`` (B x 512 x h x w) -> B x 3 x 8h x 8w, unclamped."""
        return self.decoder(t)

    def style_stats(self, style: torch.Tensor) -> StyleStats:
        """The ``relu4_1`` statistics of a style image (1 x 3 x H x W, RGB [0, 1]), without autograd."""
        _check_image(style, "style image")
        with torch.no_grad():
            feat = self.encode(style.to(self.device))[ENCODER_LAYER]
            mean, std = channel_stats(feat)
        return StyleStats(mean=mean, std=std)

    def target(
        self,
        content_feat: torch.Tensor,
        styles: Sequence[StyleStats],
        weights: Optional[Sequence[float]] = None,
        alpha: float = 1.0,
        mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """The decoder's input ``t`` for content features and style statistics (see the module docstring).

        Args:
            content_feat: B x 512 x h x w (``relu4_1`` of the content).
            styles: one :class:`StyleStats` per style.
            weights: interpolation weights, one per style (normalized to sum
                1; default equal). Not used with ``mask``.
            alpha: style strength in [0, 1]; 0 gives ``content_feat``.
            mask: B x 1 x h x w (or 1 x 1 x h x w) weights in [0, 1] at the
                features' resolution, 1 = first style; needs exactly two styles.

        Returns:
            B x 512 x h x w.
        """
        weights_n = _check_controls(len(styles), weights, alpha, mask)
        if mask is not None:
            m = mask.to(content_feat.device, torch.float32)
            parts = []
            for region, stats in ((m, styles[0]), (1.0 - m, styles[1])):
                mean, std = channel_stats(content_feat, weight=region)
                parts.append(normalize_to(content_feat, mean, std, stats.mean, stats.std).float())
            t = m * parts[0] + (1.0 - m) * parts[1]
        else:
            mean, std = channel_stats(content_feat)
            t = sum(
                w * normalize_to(content_feat, mean, std, s.mean, s.std).float()
                for w, s in zip(weights_n, styles)
            )
        t = t.to(content_feat.dtype)
        if alpha < 1.0:
            t = alpha * t + (1.0 - alpha) * content_feat
        return t

    def stylize(
        self,
        content: torch.Tensor,
        styles: Sequence[StyleInput],
        weights: Optional[Sequence[float]] = None,
        alpha: float = 1.0,
        mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Paint ``content`` in the style(s) of ``styles`` in one pass.

        Args:
            content: 1 x 3 x H x W RGB in [0, 1] (H, W >= 16; any size, padded
                to a multiple of 8 internally).
            styles: style images (1 x 3 x h x w RGB [0, 1], any size) or their
                :class:`StyleStats` (:meth:`style_stats`, to reuse across contents).
            weights: interpolation weights, one per style (default equal).
            alpha: content-style trade-off in [0, 1] (1 = full style, 0 =
                the decoder's reconstruction of the content).
            mask: 1 x 1 x H' x W' in [0, 1] (white = first style), resized to
                the content's size; needs exactly two styles.

        Returns:
            1 x 3 x H x W RGB clamped to [0, 1] (float32, on the model's device).
        """
        _check_image(content, "content image")
        if content.shape[0] != 1:
            raise ImageError(f"stylize takes one content image (1 x 3 x H x W), got a batch of {content.shape[0]}")
        if not styles:
            raise ConfigError("no style given: pass at least one style image")
        stats = [s if isinstance(s, StyleStats) else self.style_stats(s) for s in styles]
        device = self.device
        x, (h, w) = _pad_to_stride(content.to(device, torch.float32), BORDER)
        feat_mask = None
        if mask is not None:
            feat_mask = _mask_at_features(mask.to(device, torch.float32), (h, w), x.shape[-2:])
        with torch.no_grad():
            feat = self.encode(x)[ENCODER_LAYER]
            t = self.target(feat, stats, weights, alpha, feat_mask)
            out = self.decode(t)
        return out[..., BORDER : BORDER + h, BORDER : BORDER + w].float().clamp(0.0, 1.0)


def _check_image(image: torch.Tensor, what: str) -> None:
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ImageError(f"{what} must be a 1 x 3 x H x W RGB tensor, got {shape}")
    if min(image.shape[-2:]) < MIN_SIZE:
        raise ImageError(
            f"{what} is too small ({image.shape[-1]}x{image.shape[-2]}); both sides need at least {MIN_SIZE} px"
        )


def _check_controls(
    n_styles: int, weights: Optional[Sequence[float]], alpha: float, mask: Optional[torch.Tensor]
) -> List[float]:
    """Validate the controls; return the normalized interpolation weights."""
    if n_styles < 1:
        raise ConfigError("no style given: pass at least one style image")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(f"alpha must be between 0 and 1, not {alpha}")
    if mask is not None:
        if n_styles != 2:
            raise ConfigError(
                f"a mask needs exactly two styles (white areas get the first, black the second), not {n_styles}"
            )
        if weights is not None:
            raise ConfigError("style weights and a mask cannot be combined: the mask decides where each style goes")
        return [1.0, 0.0]
    if weights is None:
        return [1.0 / n_styles] * n_styles
    w = [float(v) for v in weights]
    if len(w) != n_styles:
        raise ConfigError(f"{len(w)} style weights for {n_styles} styles; give one weight per style")
    if any(not (v >= 0 and v < float("inf")) for v in w) or sum(w) <= 0:
        raise ConfigError(f"style weights must be finite numbers >= 0, not all 0: {tuple(w)}")
    total = sum(w)
    return [v / total for v in w]


def _mask_at_features(mask: torch.Tensor, size_hw: Tuple[int, int], padded_hw: Any) -> torch.Tensor:
    """A 1 x 1 x H' x W' mask -> 1 x 1 x (H/8) x (W/8) at ``relu4_1`` resolution (area average)."""
    if mask.dim() == 3:
        mask = mask.unsqueeze(0)
    if mask.dim() != 4 or mask.shape[:2] != (1, 1):
        raise ImageError(f"the mask must be 1 x 1 x H x W, got {tuple(mask.shape)}")
    m = mask.clamp(0.0, 1.0)
    if tuple(m.shape[-2:]) != tuple(size_hw):
        m = F.interpolate(m, size=size_hw, mode="bilinear", align_corners=False, antialias=True).clamp(0.0, 1.0)
    m, _ = _pad_to_stride(m, BORDER)
    ph, pw = int(padded_hw[0]), int(padded_hw[1])
    return F.interpolate(m, size=(ph // STRIDE, pw // STRIDE), mode="area")


def save_adain(path: Any, model: Union[AdaINModel, Decoder], train: Optional[Dict[str, Any]] = None) -> Any:
    """Write the decoder as a painterly model file (kind ``adain``, no styles), atomically.

    Returns:
        The path written.
    """
    decoder = model.decoder if isinstance(model, AdaINModel) else model
    if not isinstance(decoder, Decoder):
        raise ModelError(f"save_adain takes an AdaINModel or a Decoder, not {type(model).__name__}")
    return save_model(path, decoder, make_meta(decoder, [], train))


__all__ = [
    "ARCHITECTURE",
    "ENCODER_LAYER",
    "KIND",
    "STYLE_LAYERS",
    "AdaINModel",
    "Decoder",
    "StyleStats",
    "adain",
    "channel_stats",
    "normalize_to",
    "save_adain",
]


def decoder_for(info: Any) -> Decoder:
    """A fresh decoder for a model file's :class:`~painterly.models.checkpoints.ModelInfo`
    (the ``adain`` entry of :mod:`painterly.models.kinds`).

    Raises:
        ConfigError: an architecture this painterly does not know.
    """
    if info.architecture != ARCHITECTURE:
        raise ConfigError(f"unknown AdaIN architecture '{info.architecture}' (this painterly knows {ARCHITECTURE})")
    return Decoder(**info.options)
