"""Training feed-forward style networks (Johnson et al. 2016; Dumoulin et al. 2017).

``train(TrainConfig(styles=(...), data="photos/", output="starry.safetensors"))``
trains a :class:`~painterly.models.transformer.StyleNetwork` on random crops of
any folder of photos so that its output has the content of the crop (VGG19
features at ``content_layers``) and the style of the style image(s) (Gram
matrices at ``style_layers``), with the relative losses of
:mod:`painterly.losses`, the same as optimization-based transfer.

Files, beside ``output`` (``NAME.safetensors``), rewritten at every checkpoint
(every ``checkpoint_every`` iterations, at the end, and on Ctrl-C):

* ``NAME.safetensors``: the model (see :mod:`painterly.models.checkpoints`);
* ``NAME.ckpt``: the training state (network, Adam state, iteration, RNG and
  data-sampler states, config, loss history): ``resume=True`` continues from
  it exactly (on CPU a resumed run equals an uninterrupted one bit for bit);
* ``NAME_preview.png``: the validation photo, then the photo in each style;
* ``NAME_loss.png``: the loss curve (log scale).

Stability (``temporal_weight`` > 0): each batch also goes through the
network slightly moved, zoomed, rotated, brightened and noised, and the
output must equal the moved output (:mod:`painterly.training.stability`); the
network then flickers less on video painted frame by frame. It costs a second
pass of the (small) network per batch and no VGG pass: 200 iterations at
192 px on one CPU thread took 5% longer than without it (fast architecture,
the two runs side by side). The model's metadata records it under
``train.stability`` (weight and perturbation sizes).

Fine-tuning (``init_model``): the network starts from a trained model's
weights (same architecture, options and number of styles) instead of a
random init; the Adam state starts afresh. The metadata records the source
under ``train.init_model``.

Multi-style: with N style images the network is conditioned on a one-hot
style vector; batch element j of iteration i gets style (i * B + j) mod N, so
all styles get the same number of updates, and each element's Gram loss is
relative to its own style's Gram matrix.

Speed on CPU: the content targets (VGG features of the input crops, only up
to ``relu2_2``) are computed once per batch without autograd, and one VGG pass
over the output gives both content and style features; the VGG sees its input
in channels-last layout, which makes an iteration faster on CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import torch
from PIL import Image

from ..config import TrainConfig
from ..errors import ConfigError
from ..training.common import finish_training
from ..imaging.io import load_image, tensor_to_image
from ..losses import FeatureStats, content_loss, feature_stats, gram_loss, tv_loss
from ..models.checkpoints import load_model, make_meta, save_model
from ..models.transformer import StyleNetwork, build_network
from ..models.vgg import VGG19, shared_vgg19
from ..progress import OptionalTrainCallback
from ..training.common import (
    CHECKPOINT_FORMAT,
    TrainPaths,
    TrainRun,
    check_resume_config,
    check_writable,
    public_config,
    read_checkpoint,
    resolve_device,
    resume_state,
    train_paths,
)
from ..training.data import BatchStream, CropSampler, scan_images
from ..training.stability import DEFAULT_RANGE, perturb, random_perturbation, stability_loss
from ..training.state import RunState

#: The preview photo used when the config names none (bundled, CC0).
DEFAULT_PREVIEW = Path(__file__).resolve().parent.parent / "data" / "chelsea.jpg"

#: Feed the VGG channels-last tensors (oneDNN and cuDNN run its convs faster so).
VGG_CHANNELS_LAST = True

# Config fields that may change on --resume; all others must match the checkpoint.
_RESUMABLE_CHANGES = (
    "iterations", "checkpoint_every", "preview_every", "preview_image", "device", "amp", "resume", "threads",
    "output", "data", "styles",
)


@dataclass
class TrainResult(TrainRun):
    """What :func:`train` returns: :class:`~painterly.training.common.TrainRun` plus

    Attributes:
        style_names: the styles, in conditioning order.
        config: the configuration used.
    """

    style_names: List[str]
    config: TrainConfig = field(repr=False)


def style_names_for(cfg: TrainConfig) -> List[str]:
    """The style names: ``cfg.style_names``, else the file stems made unique."""
    if cfg.style_names:
        return list(cfg.style_names)
    names: List[str] = []
    for style in cfg.styles:
        base = Path(style).stem or "style"
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def _check_resume(cfg: TrainConfig, state: Dict[str, Any], names: List[str], path: Path) -> None:
    check_resume_config(
        cfg, state["config"], _RESUMABLE_CHANGES, path,
        "iterations, checkpoint/preview intervals, device, amp and threads",
    )
    if list(state["style_names"]) != names:
        raise ConfigError(
            f"cannot resume: the styles are {', '.join(names)} but the checkpoint was made with "
            f"{', '.join(state['style_names'])}"
        )


class _Objective:
    """Perceptual loss of a batch of outputs: content, per-element Gram style and TV."""

    def __init__(self, vgg: VGG19, cfg: TrainConfig, styles: Sequence[torch.Tensor], channels_last: bool) -> None:
        self.vgg = vgg
        self.cfg = cfg
        self.channels_last = channels_last
        self.content_layers = list(cfg.content_layers) if cfg.content_weight > 0 else []
        self.style_layers = list(cfg.style_layers)
        self.layers = list(dict.fromkeys(self.content_layers + self.style_layers))
        # Per layer: every style's Gram matrix and means stacked, N x C x C and N x C.
        grams: Dict[str, List[torch.Tensor]] = {name: [] for name in self.style_layers}
        means: Dict[str, List[torch.Tensor]] = {name: [] for name in self.style_layers}
        with torch.no_grad():
            for image in styles:
                feats = vgg(self._vgg_input(image), self.style_layers)
                for name in self.style_layers:
                    stats = feature_stats(feats[name].float())
                    grams[name].append(stats.gram[0])
                    means[name].append(stats.mean[0])
        self.target_gram = {k: torch.stack(v) for k, v in grams.items()}
        self.target_mean = {k: torch.stack(v) for k, v in means.items()}

    def _vgg_input(self, image: torch.Tensor) -> torch.Tensor:
        return image.contiguous(memory_format=torch.channels_last) if self.channels_last else image

    def content_targets(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """VGG features of the input crops at the content layers (no autograd)."""
        if not self.content_layers:
            return {}
        with torch.no_grad():
            return self.vgg(self._vgg_input(x), self.content_layers)

    def __call__(
        self, y: torch.Tensor, targets: Dict[str, torch.Tensor], groups: List[Tuple[int, torch.Tensor]]
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Weighted total and unweighted parts for outputs ``y`` (B x 3 x S x S).

        ``groups`` lists (style index, batch positions with that style).
        """
        cfg = self.cfg
        batch = y.shape[0]
        feats = self.vgg(self._vgg_input(y), self.layers)
        parts: Dict[str, torch.Tensor] = {}
        total = y.new_zeros((), dtype=torch.float32)
        if self.content_layers:
            c = sum(content_loss(feats[k].float(), targets[k].float()) for k in self.content_layers)
            parts["content"] = c / len(self.content_layers)
            total = total + cfg.content_weight * parts["content"]
        style = y.new_zeros((), dtype=torch.float32)
        for name in self.style_layers:
            stats = feature_stats(feats[name].float())
            for s, positions in groups:
                k = positions.numel()
                tg = self.target_gram[name][s].expand(k, -1, -1)
                tm = self.target_mean[name][s].expand(k, -1)
                mine = FeatureStats(
                    gram=stats.gram.index_select(0, positions),
                    mean=stats.mean.index_select(0, positions),
                    count=stats.count,
                )
                # Elements of one style share the target, so gram_loss over the
                # group is the mean of their relative errors; weight by group size.
                style = style + (k / batch) * gram_loss(mine, FeatureStats(gram=tg, mean=tm, count=stats.count))
        parts["style"] = style / len(self.style_layers)
        total = total + cfg.style_weight * parts["style"]
        if cfg.tv_weight > 0:
            parts["tv"] = tv_loss(y.float())
            total = total + cfg.tv_weight * parts["tv"]
        return total, parts


def _style_groups(iteration: int, batch: int, n_styles: int, device: torch.device) -> Tuple[torch.Tensor, List[Tuple[int, torch.Tensor]]]:
    """Round-robin style assignment: one-hot B x N weights and (style, positions) groups."""
    index = [(iteration * batch + j) % n_styles for j in range(batch)]
    weights = torch.zeros(batch, n_styles, device=device)
    weights[torch.arange(batch), torch.tensor(index)] = 1.0
    groups = [
        (s, torch.tensor([j for j, t in enumerate(index) if t == s], device=device))
        for s in sorted(set(index))
    ]
    return weights, groups


def _initial_weights(cfg: TrainConfig, n_styles: int) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    """The weights of ``cfg.init_model`` (CPU) and what the metadata records of it.

    Raises:
        ModelError: the model cannot be found or loaded.
        ConfigError: its architecture, options or number of styles differ from this run's.
    """
    source, info = load_model(cfg.init_model, "cpu")
    fresh = build_network(cfg.architecture, n_styles)
    if source.architecture != fresh.architecture or dict(source.options) != dict(fresh.options):
        raise ConfigError(
            f"cannot start from {info.path.name}: it is a '{source.architecture}' network {dict(source.options)}, "
            f"but this run trains '{fresh.architecture}' {dict(fresh.options)}; use --architecture {source.architecture}",
            field="init_model", value=cfg.init_model,
        )
    if source.n_styles != n_styles:
        raise ConfigError(
            f"cannot start from {info.path.name}: it holds {source.n_styles} styles ({', '.join(info.styles)}) "
            f"but this run trains {n_styles}",
            field="init_model", value=cfg.init_model,
        )
    trained = info.meta.get("train", {}) if isinstance(info.meta.get("train"), dict) else {}
    record = {"name": info.path.stem, "styles": list(info.styles), "iterations": trained.get("iterations")}
    return {k: v.detach().clone() for k, v in source.state_dict().items()}, record


def _perturbation_generator(seed: int, iteration: int) -> torch.Generator:
    # One generator per iteration, from the seed: the same perturbations on
    # resume without checkpointing another RNG, and independent of the data
    # sampler's thread.
    return torch.Generator().manual_seed((seed & 0xFFFFFFFF) * 0x1_0000_0000 + iteration)


def _preview_size(cfg: TrainConfig) -> int:
    return min(1024, max(256, 2 * cfg.image_size))


def render_preview(net: StyleNetwork, photo: torch.Tensor, names: Sequence[str]) -> Image.Image:
    """The photo, then the photo in each style, side by side with the names below.

    Args:
        net: the network (any device).
        photo: 1 x 3 x H x W RGB [0, 1].
        names: the style names, one per style of ``net``.
    """
    from PIL import ImageDraw

    from ..imaging.sheet import label_font

    device = next(net.parameters()).device
    panels = [photo]
    with torch.no_grad():
        for s in range(net.n_styles):
            weights = torch.zeros(1, net.n_styles, device=device)
            weights[0, s] = 1.0
            panels.append(net(photo.to(device), weights).float().cpu())
    h, w = photo.shape[-2:]
    gap, label_h = 4, 20
    sheet = Image.new("RGB", (len(panels) * w + (len(panels) - 1) * gap, h + label_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = label_font(13)
    for i, (panel, label) in enumerate(zip(panels, ["photo", *names])):
        x = i * (w + gap)
        sheet.paste(tensor_to_image(panel), (x, 0))
        draw.text((x + 4, h + 3), label, fill=(0, 0, 0), font=font)
    return sheet


def train(config: TrainConfig, callback: OptionalTrainCallback = None, *, cancel: Any = None) -> TrainResult:
    """Train a feed-forward style network; see the module docstring for the files it writes.

    Args:
        config: what to train (``styles``, ``data`` and ``output`` are required).
        callback: called with a :class:`~painterly.progress.Progress` (kind ``train``)
            after every iteration.
        cancel: an event (``is_set()``); when set, training stops after the current
            iteration, writes a checkpoint and raises :class:`~painterly.errors.Cancelled`
            whose ``result`` is this function's result.

    Returns:
        A :class:`TrainResult`. Ctrl-C (KeyboardInterrupt) during training
        writes a checkpoint and returns with ``interrupted=True``.

    Raises:
        ConfigError: missing styles/data/output, a bad output suffix, an
            unavailable device, or ``resume`` without a matching checkpoint;
            also starting afresh over an unfinished checkpoint (resume it or
            delete it).
        ImageError: a style or preview image or the data folder is unusable.
        OutputError: the output folder is missing or not writable.
    """
    cfg = config
    started = time.perf_counter()
    if not cfg.styles:
        raise ConfigError("no style images: give at least one style image to learn")
    if not cfg.data:
        raise ConfigError("no data folder: give a folder of photos to train on")
    paths = train_paths(cfg.output)
    for path in (paths.model, paths.checkpoint, paths.preview, paths.loss_curve):
        check_writable(path)
    names = style_names_for(cfg)
    device = resolve_device(cfg.device)

    # Everything that can fail on bad input fails here, before any work.
    style_images = [load_image(path, size=cfg.style_size) for path in cfg.styles]
    preview_photo = load_image(cfg.preview_image or DEFAULT_PREVIEW, size=_preview_size(cfg))
    files, skipped = scan_images(cfg.data)
    state = resume_state(paths.checkpoint, cfg.resume)
    if state is not None:
        _check_resume(cfg, state, names, paths.checkpoint)
    init_weights: Dict[str, torch.Tensor] = {}
    init_record: Dict[str, Any] = {}
    if cfg.init_model:
        # Loaded (and checked) on resume too, so the metadata names it; the
        # checkpoint's weights then replace these.
        init_weights, init_record = _initial_weights(cfg, len(names))

    # Network init from the seed without disturbing the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        net = build_network(cfg.architecture, len(names))
    if init_weights:
        net.load_state_dict(init_weights)
    net.to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    run = RunState(net, optimizer, device, cfg.amp, started)
    precision = run.precision

    sampler = CropSampler(files, cfg.image_size, cfg.batch_size, cfg.seed)
    run.restore(state)
    if state is not None:
        sampler.load_state_dict(state["sampler"])
    sampler_state = sampler.state_dict()

    vgg = shared_vgg19("max", device)
    objective = _Objective(vgg, cfg, [s.to(device) for s in style_images], channels_last=VGG_CHANNELS_LAST)
    stream = BatchStream(sampler, prefetch=3 if device.type == "cuda" else 1)
    iteration = run.start_iteration

    def save_all(with_preview: bool) -> List[Path]:
        checkpoint = run.checkpoint(
            iteration, cfg, sampler=sampler_state, style_names=names, architecture=net.architecture,
            options=net.options,
        )
        public = public_config(cfg, ("styles", "data", "output", "preview_image", "init_model"))
        extra: Dict[str, Any] = {}
        if cfg.temporal_weight > 0:
            extra["stability"] = {"weight": cfg.temporal_weight, **DEFAULT_RANGE.to_dict()}
        if init_record:
            extra["init_model"] = init_record
        meta = run.train_meta(checkpoint, public, skipped, len(sampler_state["bad"]), **extra)
        return run.write_files(
            paths, checkpoint, "feedforward", lambda: save_model(paths.model, net, make_meta(net, names, meta)),
            f"{paths.model.name}: {net.architecture}, {', '.join(names)}, {iteration} iterations",
            write_preview if with_preview else None,
        )

    def write_preview() -> Path:
        return run.write_preview(lambda: render_preview(net, preview_photo, names), paths.preview)

    def forward(step: int) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], Any]:
        batch, next_state = next(stream)
        x = batch.to(device, non_blocking=True)
        weights, groups = _style_groups(step, x.shape[0], len(names), device)
        with precision.vgg():
            targets = objective.content_targets(x)
        perturbation = None
        if cfg.temporal_weight > 0:
            perturbation = random_perturbation(
                x.shape[0], x.shape[2], x.shape[3], generator=_perturbation_generator(cfg.seed, step),
                device=device,
            )
        with precision.net():
            if perturbation is None:
                y = net(x, weights)
            else:
                # One pass over crops and perturbed crops (instance norm: per image).
                both = net(torch.cat([x, perturb(x, perturbation)]), torch.cat([weights, weights]))
                y, y_moved = both.chunk(2)
        with precision.vgg():
            total, parts = objective(precision.vgg_input(y), targets, groups)
        if perturbation is not None:
            parts["temporal"] = stability_loss(y, y_moved, perturbation)
            total = total + cfg.temporal_weight * parts["temporal"]
        return total, parts, next_state

    def commit(done: int, next_state: Any) -> None:
        nonlocal iteration, sampler_state
        iteration, sampler_state = done, next_state

    try:
        outcome = run.loop(cfg, forward, commit, save_all, write_preview, callback, cancel)
    finally:
        stream.close()

    fields = run.result_fields(outcome, paths, skipped, [files[i] for i in sampler_state["bad"]])
    result = TrainResult(**fields, style_names=names, config=cfg)
    return finish_training(result, cancel)


__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_PREVIEW",
    "TrainPaths",
    "TrainResult",
    "read_checkpoint",
    "render_preview",
    "resolve_device",
    "style_names_for",
    "train",
    "train_paths",
]
