"""Optimization-based style transfer: the coarse-to-fine driver and the public API."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from PIL import Image

from ..config import TransferConfig, default_style_size
from ..errors import ConfigError, ImageError
from ..imaging import color, load_image, open_image, resize_tensor, tensor_to_image
from ..models.device import torch_device
from ..models.vgg import shared_vgg19
from ..progress import OptionalCallback, OptionalCancel, Progress
from .objective import Objective
from .optimize import optimize_scale
from .schedule import fit_long_side, plan, scale_style_layers

ImageInput = Union[str, "Image.Image", torch.Tensor, Any]


@dataclass
class TransferResult:
    """What :func:`run_transfer` returns.

    Attributes:
        tensor: 1 x 3 x H x W RGB in [0, 1], the stylized image.
        losses: named loss parts at the final scale (content, style, tv).
        loss: total loss at the final scale.
        iterations: iterations run over all scales.
        elapsed: wall-clock seconds.
        interrupted: Ctrl-C ended the run early; ``tensor`` is the best image so far.
        config: the configuration used.
        history: total loss per iteration, per scale.
    """

    tensor: torch.Tensor
    losses: Dict[str, float]
    loss: float
    iterations: int
    elapsed: float
    interrupted: bool
    config: TransferConfig
    history: List[List[float]] = field(default_factory=list)

    @property
    def image(self) -> Image.Image:
        """The result as an RGB PIL image."""
        return tensor_to_image(self.tensor)


def _region_masks(mask: ImageInput, n_styles: int, content_hw: tuple, max_pixels: int) -> torch.Tensor:
    """Turn a grayscale mask into ``n_styles`` soft region weights (R x 1 x H x W).

    Gray levels are split into ``n_styles`` bands: white selects the first style,
    black the last, with linear blending between neighbouring bands.
    """
    if n_styles < 2:
        raise ConfigError("a mask needs at least two style images: one per region (white = first style)")
    m = load_image(mask, max_pixels=max_pixels).mean(dim=1, keepdim=True)
    mh, mw = m.shape[-2:]
    ch, cw = content_hw
    if abs(mw / mh - cw / ch) > 0.01 * (cw / ch):
        raise ImageError(
            f"mask is {mw}x{mh} px but the content image is {cw}x{ch} px; "
            "the mask must have the content's size (or at least its aspect ratio)"
        )
    level = (1 - m) * (n_styles - 1)  # 0 = white = first style
    centers = torch.arange(n_styles, dtype=m.dtype).view(n_styles, 1, 1, 1)
    weights = (1 - (level - centers).abs()).clamp(min=0)
    return weights / weights.sum(dim=0, keepdim=True).clamp_min(1e-8)


def _init_image(cfg: TransferConfig, content: torch.Tensor, hw: tuple, given: Optional[torch.Tensor] = None) -> torch.Tensor:
    if given is not None:
        return resize_tensor(given, hw)
    if cfg.init == "content":
        return resize_tensor(content, hw)
    if cfg.init == "noise":
        g = torch.Generator().manual_seed(cfg.seed)
        return torch.rand((1, 3) + tuple(hw), generator=g)
    return resize_tensor(load_image(cfg.init, max_pixels=cfg.max_pixels), hw)


def run_transfer(
    content: ImageInput,
    styles: Union[ImageInput, Sequence[ImageInput]],
    config: Optional[TransferConfig] = None,
    *,
    mask: Optional[ImageInput] = None,
    callback: OptionalCallback = None,
    cancel: OptionalCancel = None,
    init_image: Optional[ImageInput] = None,
) -> TransferResult:
    """Paint ``content`` in the style of ``styles`` by optimizing its pixels.

    Args:
        content: path, PIL image or 1 x 3 x H x W / 3 x H x W tensor (RGB, 0..1).
        styles: one or several style images of the same kinds.
        config: settings (default: ``TransferConfig()``).
        mask: optional grayscale image of the content's aspect ratio assigning
            regions to styles (white = first style, black = last).
        callback: called with a :class:`~painterly.progress.Progress` after each iteration.
        cancel: an event (``is_set()``), checked after every iteration from any
            thread: when set, the run stops and returns the best image so far
            with ``interrupted=True`` (:func:`painterly.transfer` raises
            :class:`~painterly.errors.Cancelled` instead).
        init_image: the start image (path, PIL image or tensor, any size: resized
            to the first scale) instead of ``config.init``, e.g. a one-pass
            result to refine.

    Returns:
        A :class:`TransferResult`; the image's long side is ``config.size`` px.
    """
    cfg = config or TransferConfig()
    start = time.perf_counter()
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if not style_list:
        raise ConfigError("give at least one style image")
    blend = list(cfg.style_blend) or [1.0] * len(style_list)
    if len(blend) != len(style_list):
        raise ConfigError(f"style_blend has {len(blend)} weights for {len(style_list)} style images")
    if sum(blend) <= 0:
        raise ConfigError("style_blend weights must not all be zero")
    device = torch_device(cfg.device)

    content_full = load_image(content, max_pixels=cfg.max_pixels)
    style_full = [load_image(s, max_pixels=cfg.max_pixels) for s in style_list]
    out_hw = fit_long_side(*content_full.shape[-2:], cfg.size)
    masks = (
        _region_masks(mask, len(style_full), tuple(content_full.shape[-2:]), cfg.max_pixels)
        if mask is not None
        else None
    )
    given_init = load_image(init_image, max_pixels=cfg.max_pixels) if init_image is not None else None
    if given_init is None and cfg.init not in ("content", "noise"):
        open_image(cfg.init, max_pixels=cfg.max_pixels)  # fail now, not after the first scale

    content_work = content_full
    if cfg.preserve_color == "luminance":
        # Gatys et al. 2016: transfer on luminance only, then put the content's chroma back.
        style_full = [color.match_luminance(s, content_full) for s in style_full]
        content_work = color.match_luminance(content_full, content_full)
    elif cfg.preserve_color == "histogram":
        style_full = [color.match_histogram(s, content_full) for s in style_full]

    vgg = shared_vgg19(cfg.pooling, device)
    schedule = plan(cfg, out_hw)
    total_its = sum(s.iterations for s in schedule)
    style_long = default_style_size(cfg)
    image: Optional[torch.Tensor] = None
    histories: List[List[float]] = []
    done_before = 0
    result = None
    for stage, scale in enumerate(schedule):
        hw = scale.size
        ratio = max(hw) / cfg.size
        content_s = resize_tensor(content_work, hw).to(device)
        styles_s = []
        for s in style_full:
            sh, sw = fit_long_side(*s.shape[-2:], max(16, round(style_long * ratio)))
            styles_s.append(resize_tensor(s, (sh, sw)).to(device))
        masks_s = F.interpolate(masks, size=hw, mode="area").to(device) if masks is not None else None
        layers = scale_style_layers(cfg.style_layers, hw, final=stage == len(schedule) - 1)
        objective = Objective(vgg, cfg, content_s, styles_s, blend, masks_s, style_layers=layers)
        if image is None:
            init = _init_image(cfg, content_work, hw, given_init).to(device)
        else:
            init = F.interpolate(image, size=hw, mode="bicubic", align_corners=False).clamp(0, 1)

        def on_step(i, loss, parts, snapshot, _stage=stage, _hw=hw, _before=done_before):
            if callback is not None:
                callback(
                    Progress(
                        step=_before + i,
                        total=total_its,
                        loss=loss,
                        losses=parts,
                        stage=_stage,
                        stages=len(schedule),
                        size=_hw,
                        elapsed=time.perf_counter() - start,
                        snapshot=snapshot,
                    )
                )

        result = optimize_scale(objective, init, scale.iterations, cfg, on_step, cancel)
        image = result.image
        histories.append(result.history)
        done_before += result.iterations
        if result.interrupted:
            break
        # Later scales' planned steps shrink when this one stopped early.
        total_its -= scale.iterations - result.iterations

    assert image is not None and result is not None
    if tuple(image.shape[-2:]) != tuple(out_hw):
        image = F.interpolate(image, size=out_hw, mode="bicubic", align_corners=False)
    image = image.detach().cpu().clamp(0, 1)
    if cfg.preserve_color == "luminance":
        image = color.combine_luminance(image, resize_tensor(content_full, out_hw))
    return TransferResult(
        tensor=image,
        losses=result.losses,
        loss=result.loss,
        iterations=done_before,
        elapsed=time.perf_counter() - start,
        interrupted=result.interrupted,
        config=cfg,
        history=histories,
    )
