"""Typed, frozen configuration for every job: the single source of defaults.

The CLI builds its options from these dataclasses (field name -> ``--flag``,
docstring ``metadata["help"]`` -> help text), the Python API takes them
directly and the web layer will fill them from requests, so defaults never drift.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

from .errors import ConfigError, did_you_mean
from .layers import check_layers
from .models.adain_constants import DECODER_UPSAMPLING

DEFAULT_STYLE_LAYERS: Tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_CONTENT_LAYERS: Tuple[str, ...] = ("relu4_2",)

#: Largest image accepted by default (pixels); larger files are refused before decoding.
DEFAULT_MAX_PIXELS = 40_000_000

OPTIMIZERS = ("lbfgs", "adam")
#: Arithmetic of the VGG19 passes in optimization (``auto``: bfloat16 where the CPU has it).
PRECISIONS = ("auto", "float32", "bfloat16")
STYLE_LOSS_TERMS = ("gram", "moments", "w2")
COLOR_MODES = ("none", "luminance", "histogram")
POOLINGS = ("max", "avg")
#: Feed-forward network architectures (built in painterly.models.transformer).
ARCHITECTURES = ("fast", "johnson")


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
        0, "optimizer iterations over all scales; 0 picks a schedule for the size (46 at 256 px: 24/12/10 at 64/128/256 px; 92 at 384; 100 at 512)"
    )
    optimizer: str = _opt("lbfgs", "lbfgs (fast, sharp) or adam (with iterate averaging)", choices=OPTIMIZERS)
    lr: float = _opt(0.02, "Adam step size, in image units (0..1) per step")
    init: str = _opt("content", "start image: content, noise or a path to an image")
    seed: int = _opt(0, "random seed; the same seed gives the same image")
    content_weight: float = _opt(1.0, "weight of the content loss")
    style_weight: float = _opt(2.0, "weight of the style loss (relative to content 1; higher paints more)")
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
    min_size: int = _opt(64, "long side of the coarsest scale in px (multi-scale starts here)")
    scale_factor: float = _opt(2.0, "ratio between successive scales")
    multiscale: bool = _opt(True, "coarse-to-fine optimization (off: one scale at --size)")
    tolerance: float = _opt(1e-4, "stop a scale early when the relative loss change falls below this")
    max_pixels: int = _opt(DEFAULT_MAX_PIXELS, "refuse input images with more pixels than this")
    device: str = _opt("cpu", "torch device: cpu, cuda, cuda:1, ...")
    threads: int = _opt(0, "CPU threads for torch; 0 uses all cores")
    precision: str = _opt(
        "auto", "VGG19 arithmetic: auto (bfloat16 on CPUs that compute it natively, else float32), "
        "float32 or bfloat16; losses and the optimizer always use float32", choices=PRECISIONS,
    )

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> "TransferConfig":
        """Return a copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """The config as pretty JSON (written beside outputs for reproducibility)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


#: Johnson et al. 2016's layers for feed-forward training: a shallow content layer
#: keeps edges sharp (the network must reproduce them in one pass), and
#: stopping at relu4_3 saves the 1/16-resolution convs of block 5.
TRAIN_CONTENT_LAYERS: Tuple[str, ...] = ("relu2_2",)
TRAIN_STYLE_LAYERS: Tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
TRAIN_DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of feed-forward network training (Johnson et al. 2016; Dumoulin et al. 2017).

    The losses are those of :class:`TransferConfig` (relative content and Gram
    terms through the shared VGG19, plus TV), averaged over the batch, so the
    weights mean the same in both. With several styles the network is
    conditioned on a one-hot style vector and each batch element is assigned a
    style round-robin, so all styles get the same number of updates.

    Cost: one iteration is a network forward/backward and a VGG19 forward/
    backward to relu4_3 on ``batch_size`` crops, so it grows with the crop
    area; docs/models.md records the measured times of each bundled model's
    training (CPU and GPU).
    """

    styles: Tuple[str, ...] = _opt((), "style images, one per style the network learns")
    style_names: Tuple[str, ...] = _opt((), "names of the styles, one per style image (default: the file names)")
    data: str = _opt("", "folder of content photos, searched recursively (jpg, png, webp, ...)")
    output: str = _opt("", "model file to write (.safetensors); the checkpoint, preview and loss curve go beside it")
    architecture: str = _opt("fast", "network: fast (CPU-friendly, default) or johnson", choices=ARCHITECTURES)
    iterations: int = _opt(2000, "training iterations (batches)")
    image_size: int = _opt(256, "side of the square training crops in px")
    batch_size: int = _opt(4, "crops per iteration")
    lr: float = _opt(1e-3, "Adam learning rate")
    content_weight: float = _opt(1.0, "weight of the content loss")
    style_weight: float = _opt(10.0, "weight of the style loss")
    tv_weight: float = _opt(1.0, "weight of the total-variation smoothness loss")
    temporal_weight: float = _opt(
        0.0, "weight of the stability term (output of a slightly moved, noisy crop must match the moved output): "
        "steadier video frame by frame, at the cost of fine texture; 0: off; try 10-30 "
        "(benchmarks/results/temporal_training.txt)"
    )
    init_model: str = _opt("", "start from this model's weights (a name from 'painterly models' or a .safetensors file "
                           "of the same architecture and number of styles): fine-tuning")
    content_layers: Tuple[str, ...] = _opt(TRAIN_CONTENT_LAYERS, "VGG19 layers for content")
    style_layers: Tuple[str, ...] = _opt(TRAIN_STYLE_LAYERS, "VGG19 layers for style")
    style_size: int = _opt(
        384, "long side of the style images in px: smaller gives larger brush strokes"
    )
    checkpoint_every: int = _opt(200, "write a checkpoint, the model, a preview and the loss curve every N iterations")
    preview_every: int = _opt(0, "write the preview image every N iterations; 0: with each checkpoint")
    preview_image: str = _opt("", "photo for the preview images (default: the bundled cat photo)")
    seed: int = _opt(0, "random seed (network init, crops, order); the same seed gives the same model on CPU")
    device: str = _opt("auto", "torch device: auto (cuda when available, else cpu), cpu, cuda, cuda:1, ...")
    amp: bool = _opt(True, "mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); ignored on CPU")
    resume: bool = _opt(False, "continue from the checkpoint beside the output (exactly where it stopped)")
    threads: int = _opt(0, "CPU threads for torch; 0 uses all cores")

    def __post_init__(self) -> None:
        self.validate()

    def replace(self, **changes: Any) -> "TrainConfig":
        """Return a copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """The config as pretty JSON (stored in checkpoints and model files)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first out-of-range value.

        Only ranges and consistency are checked here; that ``styles``, ``data``
        and ``output`` are given and usable is checked when training starts
        (so a default ``TrainConfig()`` can be built and filled in later).
        """
        _check_choice("architecture", self.architecture, ARCHITECTURES)
        if not 1 <= self.iterations <= 10_000_000:
            raise ConfigError(f"iterations must be between 1 and 10000000, not {self.iterations}")
        if not 16 <= self.image_size <= 4096:
            raise ConfigError(f"image_size must be between 16 and 4096 px, not {self.image_size}")
        if not 1 <= self.batch_size <= 1024:
            raise ConfigError(f"batch_size must be between 1 and 1024, not {self.batch_size}")
        if not (0 < self.lr < 1):
            raise ConfigError(f"lr must be > 0 and < 1, not {self.lr}")
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight"):
            value = getattr(self, name)
            if not (value >= 0 and value < float("inf")):
                raise ConfigError(f"{name} must be a finite number >= 0, not {value}")
        if self.style_weight == 0 and self.content_weight == 0:
            raise ConfigError("content_weight and style_weight are both 0: there is nothing to learn")
        if not 16 <= self.style_size <= 8192:
            raise ConfigError(f"style_size must be between 16 and 8192 px, not {self.style_size}")
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every must be >= 1, not {self.checkpoint_every}")
        if self.preview_every < 0:
            raise ConfigError(f"preview_every must be >= 0 (0: with each checkpoint), not {self.preview_every}")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0, not {self.threads}")
        if not self.style_layers:
            raise ConfigError("style_layers is empty; give at least one layer such as relu1_2")
        if not self.content_layers and self.content_weight > 0:
            raise ConfigError("content_layers is empty; give at least one layer or set content_weight to 0")
        _check_layers("content_layers", self.content_layers)
        _check_layers("style_layers", self.style_layers)
        kind = self.device.split(":", 1)[0]
        index = self.device.split(":", 1)[1] if ":" in self.device else "0"
        if kind not in TRAIN_DEVICES or not index.isdigit() or (kind != "cuda" and ":" in self.device):
            raise ConfigError(
                f"device must be auto, cpu, cuda or cuda:N, not '{self.device}'{did_you_mean(self.device, TRAIN_DEVICES)}"
            )
        if self.style_names:
            if len(self.style_names) != len(self.styles):
                raise ConfigError(
                    f"style_names has {len(self.style_names)} names for {len(self.styles)} style images"
                )
            for name in self.style_names:
                if not name.strip():
                    raise ConfigError("style_names must not be empty strings")
            if len(set(self.style_names)) != len(self.style_names):
                raise ConfigError(f"style_names must be unique, not {', '.join(self.style_names)}")


def _check_layers(name: str, layers: Tuple[str, ...]) -> None:
    try:
        check_layers(layers)
    except ConfigError as exc:
        raise ConfigError(str(exc), field=name, value=layers) from None


def _check_choice(name: str, value: str, choices: Tuple[str, ...], field: str = "") -> None:
    if value not in choices:
        raise ConfigError(
            f"{name} must be one of {', '.join(choices)}, not '{value}'{did_you_mean(value, choices)}",
            field=field or name, value=value, choices=choices,
        )


def validate(cfg: TransferConfig) -> None:
    """Raise :class:`ConfigError` naming the first out-of-range value."""
    if not 16 <= cfg.size <= 8192:
        raise ConfigError(f"size must be between 16 and 8192 px, not {cfg.size}")
    if cfg.iterations < 0 or cfg.iterations > 100_000:
        raise ConfigError(f"iterations must be between 0 and 100000, not {cfg.iterations}")
    _check_choice("optimizer", cfg.optimizer, OPTIMIZERS)
    _check_choice("precision", cfg.precision, PRECISIONS)
    terms = cfg.style_loss.split("+")
    for term in terms:
        _check_choice("style_loss term", term, STYLE_LOSS_TERMS, field="style_loss")
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
    _check_layers("content_layers", cfg.content_layers)
    _check_layers("style_layers", cfg.style_layers)


def config_fields(cls: type) -> Dict[str, dataclasses.Field]:
    """Return the dataclass fields of a config class by name."""
    return {f.name: f for f in dataclasses.fields(cls)}


def default_style_size(cfg: TransferConfig) -> int:
    """Long side in px at which style images are analysed at the final scale."""
    base = cfg.style_size or max(512, cfg.size)
    return max(16, int(round(base * cfg.style_scale)))


__all__ = [
    "TransferConfig",
    "TrainConfig",
    "ARCHITECTURES",
    "TRAIN_CONTENT_LAYERS",
    "TRAIN_STYLE_LAYERS",
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "DEFAULT_MAX_PIXELS",
    "config_fields",
    "default_style_size",
]


# -- feed-forward stylization (issue 3) ---------------------------------------

STYLIZE_BACKENDS = ("auto", "torch", "onnx")
#: How an AdaIN result made at the working size reaches the output size.
UPSAMPLE_MODES = ("guided", "bicubic")
#: Feature transforms at relu4_1 (see painterly.arbitrary.transforms).
ARBITRARY_TRANSFORMS = ("adain", "efdm", "wct")


# The quality mode's iteration count when none is given (docs/models.md, "--refine N":
# chosen on the dev set, the fewest iterations that passed the most dev pairs).
REFINE_QUALITY = 20


@dataclass(frozen=True)
class StylizeConfig:
    """Settings of feed-forward stylization with a trained model (Johnson et al. 2016).

    One forward pass per image (or per tile). Large images are cut into
    overlapping tiles of ``tile_size`` px so memory stays bounded whatever the
    photo's size; the tiles share one set of instance-norm statistics and are
    blended with cosine feathering, so no seams show (see ``fast/tiling.py``).

    With ``style_images`` the photo is painted by an arbitrary-style (AdaIN)
    model instead (Huang & Belongie 2017; :mod:`painterly.arbitrary.stylize`):
    at ``work_size``, then upsampled with a guided filter; ``style_weights``
    then blend the style images, ``alpha`` trades content for style in
    feature space, and ``mask`` puts two styles in two regions.
    """

    model: str = _opt(
        "", "model name (see 'painterly models') or path to a .safetensors or .onnx model file"
    )
    size: int = _opt(0, "long side of the output in pixels; 0 keeps the input size")
    style_weights: Tuple[float, ...] = _opt(
        (), "blend of the model's styles, one weight per style, normalized to sum 1 (default: first style)"
    )
    strength: float = _opt(1.0, "how much style to apply: 0 returns the photo, 1 the full stylization")
    preserve_color: str = _opt(
        "none", "keep the photo's colours: none, luminance or histogram", choices=COLOR_MODES
    )
    tile_size: int = _opt(
        1024, "process images larger than this many px per side in overlapping tiles (bounds memory); 0 never tiles"
    )
    tile_overlap: int = _opt(64, "overlap of neighbouring tiles in px, blended with feathering")
    backend: str = _opt(
        "auto", "auto (onnxruntime for .onnx models, torch otherwise), torch or onnx", choices=STYLIZE_BACKENDS
    )
    max_pixels: int = _opt(DEFAULT_MAX_PIXELS, "refuse input images with more pixels than this")
    device: str = _opt("cpu", "device: cpu, cuda, cuda:1, ... (onnx: cpu or cuda)")
    threads: int = _opt(0, "CPU threads; 0 uses all cores")
    # -- arbitrary style (AdaIN, issue 4): used when style_images is given ------
    style_images: Tuple[str, ...] = _opt(
        (), "paint with these style images (any painting, no training) through an AdaIN model; "
        "several are blended by style_weights"
    )
    alpha: float = _opt(
        1.0, "AdaIN content-style trade-off in feature space: 1 full style, 0 the decoder's rendering of the photo"
    )
    mask: str = _opt("", "AdaIN with two style images: an image whose white areas get the first style, black the second")
    work_size: int = _opt(
        512, "AdaIN works at this long side in px (the paper's; 384 is about 1.5x faster but softer); larger "
        "photos are brought to full size by guided upsampling, which restores their detail; 0 works at full size"
    )
    style_size: int = _opt(
        320, "AdaIN: long side of the style images in px (smaller gives larger brush strokes; the paper uses 512)"
    )
    upsample: str = _opt(
        "guided", "AdaIN: from work_size to the output size by guided (edge-aware, restores the photo's "
        "detail) or bicubic upsampling", choices=UPSAMPLE_MODES,
    )
    transform: str = _opt(
        "adain", "AdaIN: how the photo's features get the painting's statistics: adain (mean and spread per "
        "channel), efdm (whole distribution per channel) or wct (mean and covariance)", choices=ARBITRARY_TRANSFORMS,
    )
    color_shift: float = _opt(
        1.0, "AdaIN: move the result's mean colour this fraction of the way to the painting's (0 leaves the "
        "decoder's colours; chosen on the benchmark's dev set); not used with preserve_color or a mask"
    )
    refine: int = _opt(
        0, "AdaIN quality mode: this many optimization iterations from the one-pass result, at refine_size, "
        f"then guided upsampling; 0 is off (seconds per iteration on a CPU); a bare --refine means "
        f"{REFINE_QUALITY}, chosen on the measured quality-versus-time curve", bare=REFINE_QUALITY,
    )
    refine_size: int = _opt(512, "AdaIN: long side in px at which refine optimizes, at most the working size "
                            "(smaller is faster, but the upsampling then loses the painting's finer texture)")
    refine_style_weight: float = _opt(
        2.0, "AdaIN: style weight of the refine iterations, relative to content 1 (lower keeps more of the "
        "photo; chosen on the benchmark's dev set with the default refine)"
    )

    def __post_init__(self) -> None:
        _validate_stylize(self)

    def replace(self, **changes: Any) -> "StylizeConfig":
        """Return a copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """The config as pretty JSON (written beside outputs for reproducibility)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


def _validate_stylize(cfg: StylizeConfig) -> None:
    """Raise :class:`ConfigError` naming the first out-of-range value of a StylizeConfig."""
    if cfg.size != 0 and not 16 <= cfg.size <= 16384:
        raise ConfigError(f"size must be 0 (keep) or between 16 and 16384 px, not {cfg.size}")
    if not (0.0 <= cfg.strength <= 1.0):
        raise ConfigError(f"strength must be between 0 and 1, not {cfg.strength}")
    if any(not (w >= 0 and w < float("inf")) for w in cfg.style_weights):
        raise ConfigError(f"style_weights must be finite numbers >= 0, not {cfg.style_weights}")
    if cfg.style_weights and sum(cfg.style_weights) <= 0:
        raise ConfigError("style_weights must not all be 0")
    _check_choice("preserve_color", cfg.preserve_color, COLOR_MODES)
    _check_choice("backend", cfg.backend, STYLIZE_BACKENDS)
    if cfg.tile_size != 0 and not 64 <= cfg.tile_size <= 16384:
        raise ConfigError(f"tile_size must be 0 (no tiling) or between 64 and 16384 px, not {cfg.tile_size}")
    if cfg.tile_overlap < 0 or (cfg.tile_size and 2 * cfg.tile_overlap > cfg.tile_size):
        raise ConfigError(
            f"tile_overlap must be between 0 and half the tile size ({cfg.tile_size // 2} px), "
            f"not {cfg.tile_overlap}"
        )
    if cfg.max_pixels < 1:
        raise ConfigError(f"max_pixels must be positive, not {cfg.max_pixels}")
    if cfg.threads < 0:
        raise ConfigError(f"threads must be >= 0, not {cfg.threads}")
    _validate_arbitrary_stylize(cfg)


def _validate_arbitrary_stylize(cfg: StylizeConfig) -> None:
    """The AdaIN fields of a StylizeConfig (issue 4)."""
    if not (0.0 <= cfg.alpha <= 1.0):
        raise ConfigError(f"alpha must be between 0 and 1, not {cfg.alpha}")
    if cfg.work_size != 0 and not 64 <= cfg.work_size <= 16384:
        raise ConfigError(f"work_size must be 0 (full size) or between 64 and 16384 px, not {cfg.work_size}")
    if not 16 <= cfg.style_size <= 8192:
        raise ConfigError(f"style_size must be between 16 and 8192 px, not {cfg.style_size}")
    _check_choice("upsample", cfg.upsample, UPSAMPLE_MODES)
    _check_choice("transform", cfg.transform, ARBITRARY_TRANSFORMS)
    if not 0.0 <= cfg.color_shift <= 1.0:
        raise ConfigError(f"color_shift must be between 0 and 1, not {cfg.color_shift}", field="color_shift")
    if not 0 <= cfg.refine <= 1000:
        raise ConfigError(
            f"refine must be between 0 (off) and 1000 iterations, not {cfg.refine}", field="refine", value=cfg.refine
        )
    if not 64 <= cfg.refine_size <= 4096:
        raise ConfigError(f"refine_size must be between 64 and 4096 px, not {cfg.refine_size}")
    if not 0 < cfg.refine_style_weight <= 1000:
        raise ConfigError(f"refine_style_weight must be above 0 and at most 1000, not {cfg.refine_style_weight}")
    if any(not str(p).strip() for p in cfg.style_images):
        raise ConfigError("style_images must not contain empty names")
    n = len(cfg.style_images)
    if cfg.mask:
        if n != 2:
            raise ConfigError(
                f"mask needs exactly two style images (white areas get the first, black the second), not {n}"
            )
        if cfg.style_weights:
            raise ConfigError("style_weights cannot be combined with mask: the mask decides where each style goes")
    if n and cfg.style_weights and len(cfg.style_weights) != n:
        raise ConfigError(f"style_weights has {len(cfg.style_weights)} values for {n} style images; give one per image")


__all__ += ["StylizeConfig", "STYLIZE_BACKENDS", "UPSAMPLE_MODES", "ARBITRARY_TRANSFORMS"]


# -- arbitrary style: AdaIN decoder training (issue 4) -------------------------


@dataclass(frozen=True)
class AdaINTrainConfig:
    """Settings of AdaIN decoder training (Huang & Belongie 2017, section 6).

    Each iteration draws ``batch_size`` random square crops of content photos
    and as many of paintings, computes the AdaIN target
    ``t = AdaIN(f(c), f(s))`` at ``relu4_1`` of the frozen VGG19, decodes it
    and scores the decoded image ``g(t)`` with the paper's losses:
    content ``||f(g(t)) - t||^2`` at ``relu4_1`` and style
    ``sum_l ||mu(f_l(g(t))) - mu(f_l(s))||^2 + ||sigma(f_l(g(t))) - sigma(f_l(s))||^2``
    over ``relu1_1 .. relu4_1``, each term divided by its target's energy
    (see :mod:`painterly.arbitrary.train`). Adam with the paper's inverse
    decay ``lr / (1 + lr_decay * iteration)``. The paper trains 160,000
    iterations of batch 8 at 256 px on MS-COCO and WikiArt.

    Cost: one iteration is two VGG19 passes to ``relu4_1`` without autograd
    (content and style crops), the decoder forward/backward and a VGG19
    forward/backward over the output, about 1.8 TFLOP at 256 px, batch 8:
    36-38 s on two AMD EPYC (Zen 3) cores, so train on a GPU. There the
    network needs a few ms per iteration and the crops are the bottleneck
    (one loader thread per folder decodes 150-220 crops/s on those cores):
    expect 20-40 iterations/s, 1-2 h for the paper's 160,000 iterations on
    one H100; shrink large style images to about 512 px short side first,
    as the paper did, so they decode fast.
    """

    content: str = _opt("", "folder of content photos, searched recursively (jpg, png, webp, ...)")
    style: str = _opt("", "folder of style images (paintings), searched recursively")
    output: str = _opt("", "model file to write (.safetensors); the checkpoint, preview and loss curve go beside it")
    iterations: int = _opt(160_000, "training iterations (batches), the paper's count: 1-2 h on one H100")
    image_size: int = _opt(256, "side of the square training crops in px")
    batch_size: int = _opt(8, "content/style pairs per iteration")
    width: float = _opt(1.0, "decoder channel multiplier (1: the paper's 256/128/64; 0.5 for CPU training)")
    upsample: str = _opt(
        "nearest",
        "the decoder's x2 upsamplings: nearest (the paper's) or bilinear (no 2 x 2 blocks for the decoder to "
        "print as a grid); --resume may switch a nearest decoder to bilinear (a fine-tuning stage)",
        choices=DECODER_UPSAMPLING,
    )
    lr: float = _opt(1e-4, "Adam learning rate (the paper's; 1e-3 blows up in the first steps)")
    lr_decay: float = _opt(5e-5, "inverse decay: the rate at iteration i is lr / (1 + lr_decay * i)")
    style_weight: float = _opt(10.0, "weight of the style loss (the paper's lambda)")
    content_weight: float = _opt(1.0, "weight of the content loss")
    identity_weight: float = _opt(
        0.0,
        "weight of an identity loss (Park & Lee 2019): the decoder must also rebuild the content crops "
        "from their own features, mean squared error on RGB 0..1; a direct signal that speeds up short "
        "(CPU) runs, about 10 to start; 0: the paper's losses only",
    )
    distribution_weight: float = _opt(
        0.0,
        "weight of a sliced Wasserstein style loss on relu1_1..relu5_1 (the paintings' feature distributions, "
        "64 random directions a layer, fresh each iteration) beside the paper's mean/std loss; it asks for "
        "the painting's texture, not only its channel statistics; about 10 to start; 0: the paper's losses only",
    )
    grid_weight: float = _opt(
        0.0,
        "weight of a grid loss: the energy of the output's mean 8 x 8 tile (the pattern locked to the "
        "decoder's upsampling lattice, which the style losses reward) over the photo crop's; about 2 to "
        "start; 0: no such loss",
    )
    style_color_jitter: float = _opt(
        0.0,
        "recolour each painting crop at random, 0..1: hue turned by up to 180 degrees x this, saturation "
        "and brightness scaled by up to 50% and 20% x this, so the decoder meets more palettes than the "
        "folder holds; 0: the crops' own colours",
    )
    checkpoint_every: int = _opt(1000, "write a checkpoint, the model and the loss curve every N iterations")
    preview_every: int = _opt(0, "write the preview image every N iterations; 0: with each checkpoint")
    seed: int = _opt(0, "random seed (decoder init, crops, order); the same seed gives the same model on CPU")
    device: str = _opt("auto", "torch device: auto (cuda when available, else cpu), cpu, cuda, cuda:1, ...")
    amp: bool = _opt(True, "mixed precision on CUDA (bf16 where supported, else fp16 for the decoder); ignored on CPU")
    resume: bool = _opt(False, "continue from the checkpoint beside the output (exactly where it stopped)")
    threads: int = _opt(0, "CPU threads for torch; 0 uses all cores")

    def __post_init__(self) -> None:
        self.validate()

    def replace(self, **changes: Any) -> "AdaINTrainConfig":
        """Return a copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """The config as pretty JSON (stored in checkpoints and model files)."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first out-of-range value.

        That ``content``, ``style`` and ``output`` are given and usable is
        checked when training starts.
        """
        if not 1 <= self.iterations <= 10_000_000:
            raise ConfigError(f"iterations must be between 1 and 10000000, not {self.iterations}")
        if not 32 <= self.image_size <= 4096:
            raise ConfigError(f"image_size must be between 32 and 4096 px, not {self.image_size}")
        if not 1 <= self.batch_size <= 1024:
            raise ConfigError(f"batch_size must be between 1 and 1024, not {self.batch_size}")
        if not (0 < self.lr < 1):
            raise ConfigError(f"lr must be > 0 and < 1, not {self.lr}")
        if not 0.0 <= self.style_color_jitter <= 1.0:
            raise ConfigError(f"style_color_jitter must be between 0 and 1, not {self.style_color_jitter}")
        for name in ("lr_decay", "content_weight", "style_weight", "identity_weight", "distribution_weight", "grid_weight"):
            value = getattr(self, name)
            if not (value >= 0 and value < float("inf")):
                raise ConfigError(f"{name} must be a finite number >= 0, not {value}")
        if self.style_weight == 0 and self.content_weight == 0:
            raise ConfigError("content_weight and style_weight are both 0: there is nothing to learn")
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every must be >= 1, not {self.checkpoint_every}")
        if self.preview_every < 0:
            raise ConfigError(f"preview_every must be >= 0 (0: with each checkpoint), not {self.preview_every}")
        if not 0.125 <= self.width <= 2:
            raise ConfigError(f"width must be between 0.125 and 2, not {self.width}")
        _check_choice("upsample", self.upsample, DECODER_UPSAMPLING)
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0, not {self.threads}")
        kind = self.device.split(":", 1)[0]
        index = self.device.split(":", 1)[1] if ":" in self.device else "0"
        if kind not in TRAIN_DEVICES or not index.isdigit() or (kind != "cuda" and ":" in self.device):
            raise ConfigError(
                f"device must be auto, cpu, cuda or cuda:N, not '{self.device}'{did_you_mean(self.device, TRAIN_DEVICES)}"
            )


__all__ += ["AdaINTrainConfig"]


# -- configs from dicts and JSON (the web service, --config files, batch manifests) --

#: The config class of each painting method (``stylize``: a trained model;
#: ``arbitrary``: any painting through the AdaIN model; ``transfer``: optimization).
METHOD_CONFIGS: Dict[str, type] = {"transfer": TransferConfig, "stylize": StylizeConfig, "arbitrary": StylizeConfig}
METHODS: Tuple[str, ...] = tuple(METHOD_CONFIGS)


def field_kind(hint: Any) -> Tuple[str, type]:
    """Classify a config field's type as ``('scalar' | 'bool' | 'tuple', element type)``."""
    import typing

    if hint is bool:
        return "bool", bool
    if hint in (int, float, str):
        return "scalar", hint
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return "tuple", (args[0] if args else str)
    if origin is typing.Union:  # Optional[X]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return field_kind(args[0])
    raise TypeError(f"unsupported config field type {hint!r}")


def _coerce(name: str, value: Any, kind: str, elem: type) -> Any:
    """``value`` (from JSON or a form) as the field's type, or a ConfigError naming ``name``."""

    def one(item: Any) -> Any:
        if elem is bool:
            if isinstance(item, bool):
                return item
            if isinstance(item, str) and item.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                return item.lower() in ("true", "1", "yes", "on")
        elif elem is int:
            if isinstance(item, int) and not isinstance(item, bool):
                return item
            if isinstance(item, float) and item.is_integer():
                return int(item)
            if isinstance(item, str) and item.strip().lstrip("-").isdigit():
                return int(item)
        elif elem is float:
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                return float(item)
            if isinstance(item, str):
                try:
                    return float(item)
                except ValueError:
                    pass
        elif elem is str:
            if isinstance(item, str):
                return item
        raise ConfigError(
            f"{name} must be {'a list of ' if kind == 'tuple' else ''}{elem.__name__}"
            f"{'s' if kind == 'tuple' else ''}, not {item!r}",
            field=name, value=item,
        )

    if kind == "tuple":
        if isinstance(value, str) and elem is not str:
            value = [v for v in value.replace(",", " ").split() if v]
        elif isinstance(value, str):  # names may hold spaces, so only commas separate them
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(one(v) for v in value)
    return one(value)


def config_from_dict(cls: type, data: Any, base: Any = None) -> Any:
    """Build and validate a config of class ``cls`` from a mapping of field values.

    Values may be JSON types (lists for tuple fields, numbers in strings as
    from an HTML form); fields not given keep ``base``'s values (or the defaults).

    Raises:
        ConfigError: ``data`` is not an object, names an unknown field (with
            the allowed names as ``choices``), or a value has the wrong type or
            is out of range; ``.field`` names the field.
    """
    import typing

    if not isinstance(data, dict):
        raise ConfigError(f"a {cls.__name__} must be a JSON object of settings, not {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    values: Dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(
                f"unknown setting '{key}'{did_you_mean(str(key), names)}", field=str(key), value=value, choices=names
            )
        kind, elem = field_kind(hints[key])
        values[key] = _coerce(key, value, kind, elem)
    try:
        return dataclasses.replace(base, **values) if base is not None else cls(**values)
    except ConfigError as exc:
        if exc.value is None and exc.field in values:
            exc.value = values[exc.field]
        raise


def config_from_json(cls: type, text: str, base: Any = None) -> Any:
    """:func:`config_from_dict` of a JSON object given as text.

    Raises:
        ConfigError: not JSON, or see :func:`config_from_dict`.
    """
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise ConfigError(f"the settings are not valid JSON: {exc}") from None
    return config_from_dict(cls, data, base)


def config_to_dict(config: Any) -> Dict[str, Any]:
    """A config's fields as JSON-ready values (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_schema(cls: type) -> list:
    """Each field of ``cls`` as ``{name, type, default, help, choices}``: what a form is built from."""
    import typing

    hints = typing.get_type_hints(cls)
    out = []
    defaults = config_to_dict(cls())
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        kind, elem = field_kind(hints[f.name])
        out.append({
            "name": f.name,
            "type": ("list of " if kind == "tuple" else "") + elem.__name__,
            "default": defaults[f.name],
            "help": f.metadata.get("help", ""),
            "choices": list(f.metadata.get("choices", ()) or ()),
        })
    return out


__all__ += ["METHODS", "METHOD_CONFIGS", "config_from_dict", "config_from_json", "config_schema", "config_to_dict", "field_kind"]


def arbitrary_fields() -> Tuple[str, ...]:
    """The :class:`StylizeConfig` fields only the arbitrary (any painting) method reads:
    those declared from ``style_images`` on, so each method's options can be shown apart."""
    names = [f.name for f in dataclasses.fields(StylizeConfig)]
    return tuple(names[names.index("style_images"):])


__all__ += ["arbitrary_fields"]
