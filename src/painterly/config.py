"""Typed, frozen configuration for every job: the single source of defaults.

The CLI builds its options from these dataclasses (field name -> ``--flag``,
docstring ``metadata["help"]`` -> help text), the Python API takes them
directly and the web layer will fill them from requests, so defaults never drift.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from .errors import ConfigError, did_you_mean
from .layers import check_layers

DEFAULT_STYLE_LAYERS: Tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_CONTENT_LAYERS: Tuple[str, ...] = ("relu4_2",)

#: Largest image accepted by default (pixels); larger files are refused before decoding.
DEFAULT_MAX_PIXELS = 40_000_000

OPTIMIZERS = ("lbfgs", "adam")
STYLE_LOSS_TERMS = ("gram", "moments", "w2")
COLOR_MODES = ("none", "luminance", "histogram")
POOLINGS = ("max", "avg")


def _opt(default: Any, help: str, **extra: Any) -> Any:
    """A dataclass field whose help text the CLI shows."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class TransferConfig:
    """Settings of optimization-based style transfer (Gatys et al. 2015).

    Loss weights are relative: each content term is ||F(x) - F(c)||^2 / ||F(c)||^2
    and each Gram term ||G(x) - G(s)||^2 / ||G(s)||^2 with G = F F^T / (C H W),
    so one set of defaults works at any image size and for any style.
    """

    size: int = _opt(512, "long side of the output in pixels")
    iterations: int = _opt(
        0, "optimizer iterations over all scales; 0 picks a schedule for the size (about 260)"
    )
    optimizer: str = _opt("lbfgs", "lbfgs (fast, sharp) or adam (with iterate averaging)", choices=OPTIMIZERS)
    lr: float = _opt(0.02, "Adam step size, in image units (0..1) per step")
    init: str = _opt("content", "start image: content, noise or a path to an image")
    seed: int = _opt(0, "random seed; the same seed gives the same image")
    content_weight: float = _opt(1.0, "weight of the content loss")
    style_weight: float = _opt(20.0, "weight of the style loss")
    tv_weight: float = _opt(0.0, "weight of the total-variation smoothness loss")
    content_layers: Tuple[str, ...] = _opt(DEFAULT_CONTENT_LAYERS, "VGG19 layers for content")
    style_layers: Tuple[str, ...] = _opt(DEFAULT_STYLE_LAYERS, "VGG19 layers for style")
    style_layer_weights: Tuple[float, ...] = _opt((), "per style layer weights (default all 1)")
    style_loss: str = _opt(
        "gram+moments",
        "style terms joined by '+': gram (Gatys), moments (feature mean and covariance) "
        "and w2 (exact Wasserstein-2 between feature Gaussians; slow on CPU)",
    )
    style_blend: Tuple[float, ...] = _opt((), "blend weights, one per style image (default equal)")
    style_size: int = _opt(0, "long side of style images in px; 0 means max(512, size)")
    style_scale: float = _opt(1.0, "multiplies the style image size: larger gives larger brush strokes")
    preserve_color: str = _opt("none", "keep the content's colours: none, luminance or histogram", choices=COLOR_MODES)
    pooling: str = _opt("max", "VGG19 pooling: max or avg", choices=POOLINGS)
    min_size: int = _opt(128, "long side of the coarsest scale in px (multi-scale starts here)")
    scale_factor: float = _opt(2 ** 0.5, "ratio between successive scales")
    multiscale: bool = _opt(True, "coarse-to-fine optimization (off: one scale at --size)")
    tolerance: float = _opt(1e-4, "stop a scale early when the relative loss change falls below this")
    max_pixels: int = _opt(DEFAULT_MAX_PIXELS, "refuse input images with more pixels than this")
    device: str = _opt("cpu", "torch device: cpu, cuda, cuda:1, ...")
    threads: int = _opt(0, "CPU threads for torch; 0 uses all cores")

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> "TransferConfig":
        """Return a copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """The config as pretty JSON (written beside outputs for reproducibility)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


def _check_choice(name: str, value: str, choices: Tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(
            f"{name} must be one of {', '.join(choices)}, not '{value}'{did_you_mean(value, choices)}"
        )


def validate(cfg: TransferConfig) -> None:
    """Raise :class:`ConfigError` naming the first out-of-range value."""
    if not 16 <= cfg.size <= 8192:
        raise ConfigError(f"size must be between 16 and 8192 px, not {cfg.size}")
    if cfg.iterations < 0 or cfg.iterations > 100_000:
        raise ConfigError(f"iterations must be between 0 and 100000, not {cfg.iterations}")
    _check_choice("optimizer", cfg.optimizer, OPTIMIZERS)
    terms = cfg.style_loss.split("+")
    for term in terms:
        _check_choice("style_loss term", term, STYLE_LOSS_TERMS)
    if len(set(terms)) != len(terms):
        raise ConfigError(f"style_loss repeats a term: '{cfg.style_loss}'")
    _check_choice("preserve_color", cfg.preserve_color, COLOR_MODES)
    _check_choice("pooling", cfg.pooling, POOLINGS)
    for name in ("content_weight", "style_weight", "tv_weight", "style_scale", "lr"):
        value = getattr(cfg, name)
        if not (value >= 0 and value < float("inf")):
            raise ConfigError(f"{name} must be a finite number >= 0, not {value}")
    if cfg.style_scale <= 0 or cfg.style_scale > 8:
        raise ConfigError(f"style_scale must be in (0, 8], not {cfg.style_scale}")
    if cfg.lr <= 0:
        raise ConfigError(f"lr must be > 0, not {cfg.lr}")
    if cfg.style_size < 0 or cfg.style_size > 8192:
        raise ConfigError(f"style_size must be 0 (auto) or at most 8192 px, not {cfg.style_size}")
    if not 16 <= cfg.min_size <= 8192:
        raise ConfigError(f"min_size must be between 16 and 8192 px, not {cfg.min_size}")
    if not 1.05 <= cfg.scale_factor <= 4:
        raise ConfigError(f"scale_factor must be between 1.05 and 4, not {cfg.scale_factor}")
    if cfg.tolerance < 0:
        raise ConfigError(f"tolerance must be >= 0, not {cfg.tolerance}")
    if cfg.max_pixels < 1:
        raise ConfigError(f"max_pixels must be positive, not {cfg.max_pixels}")
    if cfg.threads < 0:
        raise ConfigError(f"threads must be >= 0, not {cfg.threads}")
    if not cfg.content_layers and cfg.content_weight > 0:
        raise ConfigError("content_layers is empty; give at least one layer or set content_weight to 0")
    if not cfg.style_layers:
        raise ConfigError("style_layers is empty; give at least one layer such as relu1_1")
    if cfg.style_layer_weights and len(cfg.style_layer_weights) != len(cfg.style_layers):
        raise ConfigError(
            f"style_layer_weights has {len(cfg.style_layer_weights)} values for "
            f"{len(cfg.style_layers)} style layers"
        )
    if any(w < 0 for w in cfg.style_layer_weights) or any(w < 0 for w in cfg.style_blend):
        raise ConfigError("style layer weights and blend weights must be >= 0")
    check_layers(cfg.content_layers)
    check_layers(cfg.style_layers)


def config_fields(cls: type) -> Dict[str, dataclasses.Field]:
    """Return the dataclass fields of a config class by name."""
    return {f.name: f for f in dataclasses.fields(cls)}


def default_style_size(cfg: TransferConfig) -> int:
    """Long side in px at which style images are analysed at the final scale."""
    base = cfg.style_size or max(512, cfg.size)
    return max(16, int(round(base * cfg.style_scale)))


__all__ = [
    "TransferConfig",
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "DEFAULT_MAX_PIXELS",
    "config_fields",
    "default_style_size",
]
