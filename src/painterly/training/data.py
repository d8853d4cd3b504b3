"""Training data for the trained networks (feed-forward and AdaIN): any folder of photos as random crops.

* :func:`scan_images` finds images by extension, recursively, in a stable
  (sorted) order, and counts the other files it skips.
* :class:`CropSampler` draws batches of square crops: the photo is scaled so
  its short side is ``image_size`` x U(1, 1.5) (some variety of scale without
  ever upsampling the crop), cropped at a random place, randomly mirrored,
  optionally recoloured (``color_jitter``: hue turned, saturation and
  brightness scaled; for paintings, so a decoder meets more palettes than
  the folder holds).
  Files that fail to decode are skipped from then on and counted. All
  randomness comes from one seeded ``torch.Generator`` whose state, with the
  epoch order and position, is the sampler's ``state_dict``: restoring it
  continues the exact same sequence of crops (for ``--resume``).
* :class:`BatchStream` optionally prepares the next batches in a background
  thread (JPEG decoding overlaps the network's work) while keeping that
  exactness: each batch carries the sampler state right after it was drawn.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from PIL import Image

from ..errors import ImageError, ImageNotFoundError, PainterlyError
from ..imaging.io import IMAGE_EXTENSIONS, image_to_tensor, open_image

#: The short side is scaled to image_size times a uniform factor in this range.
SCALE_RANGE = (1.0, 1.5)
#: At ``color_jitter`` 1: hue turned by up to this many degrees either way, saturation
#: and brightness scaled by up to these fractions either way.
JITTER_HUE_DEGREES = 180.0
JITTER_SATURATION = 0.5
JITTER_BRIGHTNESS = 0.2


def jitter_colors(crop: torch.Tensor, hue: float, saturation: float, brightness: float) -> torch.Tensor:
    """Recolour an RGB [0, 1] batch (B x 3 x H x W) in YIQ space, clamped to [0, 1].

    Args:
        hue: turn of the chroma plane (I, Q) in degrees.
        saturation: factor on the chroma (1: unchanged).
        brightness: factor on the luma Y (1: unchanged).
    """
    from ..imaging.color import rgb_to_yiq, yiq_to_rgb

    yiq = rgb_to_yiq(crop)
    a = math.radians(hue)
    cos, sin = math.cos(a) * saturation, math.sin(a) * saturation
    i, q = yiq[:, 1], yiq[:, 2]
    out = torch.stack([yiq[:, 0] * brightness, cos * i - sin * q, sin * i + cos * q], dim=1)
    return yiq_to_rgb(out).clamp_(0.0, 1.0)


def scan_images(folder: str | os.PathLike) -> Tuple[List[Path], int]:
    """Image files under ``folder`` (recursive, sorted) and the number of other files skipped.

    Hidden files and folders (names starting with ".") are ignored entirely.

    Raises:
        ImageNotFoundError: the folder does not exist.
        ImageError: it is not a folder, or holds no image files.
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise ImageNotFoundError(f"data folder not found: {root}")
    if not root.is_dir():
        raise ImageError(f"data must be a folder of photos, but {root} is a file")
    files: List[Path] = []
    skipped = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                files.append(Path(dirpath) / name)
            else:
                skipped += 1
    if not files:
        raise ImageError(
            f"no images in {root} (looked for {', '.join(IMAGE_EXTENSIONS)} in all subfolders; "
            f"{skipped} other files skipped)"
        )
    return files, skipped


def load_crop(path: Path, size: int, scale: float, fx: float, fy: float, flip: bool) -> torch.Tensor:
    """One square crop of ``path``: 1 x 3 x size x size RGB [0, 1].

    Args:
        size: side of the crop in px.
        scale: the photo's short side becomes ``size * scale`` px (>= 1).
        fx, fy: position of the crop in [0, 1] (0 = left/top edge).
        flip: mirror left-right.

    Raises:
        ImageError: the file cannot be decoded.
    """
    try:
        with Image.open(path) as src:
            # JPEG can decode at 1/2, 1/4 or 1/8 size for almost nothing: ask
            # for the smallest that still leaves the short side >= what we need.
            need = math.ceil(size * scale)
            src.draft("RGB", (need, need))
            img = open_image(src, max_pixels=None)
    except PainterlyError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for bad files
        raise ImageError(f"cannot read image {path}") from exc
    width, height = img.size
    side = min(width, height) / scale  # crop side in source pixels (<= short side)
    left = fx * (width - side)
    top = fy * (height - side)
    # box= resamples straight from the source region: one antialiased resize,
    # no intermediate full-size copy.
    crop = img.resize((size, size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
    if flip:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image_to_tensor(crop)


class CropSampler:
    """Endless batches of random square crops from a list of image files.

    Args:
        files: image paths (see :func:`scan_images`).
        image_size: side of the crops in px.
        batch_size: crops per batch.
        seed: seeds the sampler's own generator (independent of torch's global RNG).
        color_jitter: strength of :func:`jitter_colors` in [0, 1] (0: off, and the
            random stream is the same as without the option).

    Every epoch visits all readable files once, in a fresh random order.
    """

    def __init__(
        self, files: Sequence[Path], image_size: int, batch_size: int, seed: int, color_jitter: float = 0.0
    ) -> None:
        if not files:
            raise ImageError("no images to train on")
        self.files = [Path(f) for f in files]
        self.image_size = image_size
        self.batch_size = batch_size
        self.color_jitter = float(color_jitter)
        self.generator = torch.Generator().manual_seed(seed)
        self.order: List[int] = []
        self.position = 0
        self.epoch = 0
        self.bad: List[int] = []  # indices of files that failed to decode, in the order found

    def _next_index(self) -> int:
        bad = set(self.bad)
        while True:
            if self.position >= len(self.order):
                self.order = torch.randperm(len(self.files), generator=self.generator).tolist()
                self.position = 0
                self.epoch += 1
            index = self.order[self.position]
            self.position += 1
            if index not in bad:
                return index

    def next_batch(self) -> torch.Tensor:
        """B x 3 x S x S crops, RGB [0, 1].

        Raises:
            ImageError: every file has failed to decode.
        """
        crops: List[torch.Tensor] = []
        while len(crops) < self.batch_size:
            index = self._next_index()
            # Draw the crop's randomness before reading, so a bad file consumes
            # the same numbers on every run.
            u = torch.rand(4, generator=self.generator, dtype=torch.float64).tolist()
            j = torch.rand(3, generator=self.generator, dtype=torch.float64).tolist() if self.color_jitter else None
            scale = SCALE_RANGE[0] + u[0] * (SCALE_RANGE[1] - SCALE_RANGE[0])
            try:
                crop = load_crop(self.files[index], self.image_size, scale, u[1], u[2], u[3] < 0.5)
                if j is not None:
                    k = self.color_jitter
                    crop = jitter_colors(
                        crop, (2 * j[0] - 1) * k * JITTER_HUE_DEGREES, 1 + (2 * j[1] - 1) * k * JITTER_SATURATION,
                        1 + (2 * j[2] - 1) * k * JITTER_BRIGHTNESS,
                    )
                crops.append(crop)
            except ImageError:
                self.bad.append(index)
                if len(self.bad) == len(self.files):
                    raise ImageError(
                        f"none of the {len(self.files)} image files could be read (all corrupt or unsupported)"
                    ) from None
        return torch.cat(crops)

    @property
    def unreadable(self) -> List[Path]:
        """Files skipped because they failed to decode."""
        return [self.files[i] for i in self.bad]

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue the same sequence of batches."""
        return {
            "generator": self.generator.get_state().clone(),
            "order": list(self.order),
            "position": self.position,
            "epoch": self.epoch,
            "bad": list(self.bad),
            "files": len(self.files),
        }

    def load_state_dict(self, state: Dict[str, Any], allow_new_files: bool = False) -> None:
        """Restore :meth:`state_dict`.

        Args:
            state: from :meth:`state_dict`.
            allow_new_files: the file list may differ from the checkpoint's (a new
                data stage, e.g. more paintings): the random stream goes on and a
                new epoch over the new list starts at the next batch.

        Raises:
            ImageError: the file count differs and ``allow_new_files`` is False.
        """
        self.generator.set_state(state["generator"])
        self.epoch = int(state["epoch"])
        if state["files"] != len(self.files):
            if not allow_new_files:
                raise ImageError(
                    f"the data folder now holds {len(self.files)} images but the checkpoint was made with "
                    f"{state['files']}; resume with the same data, or start afresh"
                )
            self.order, self.position, self.bad = [], 0, []
            return
        self.order = list(state["order"])
        self.position = int(state["position"])
        self.bad = list(state["bad"])


class BatchStream:
    """Batches from a :class:`CropSampler`, prepared ``prefetch`` ahead in a thread.

    Iterating yields ``(batch, sampler_state)`` where ``sampler_state`` is the
    sampler's state right after drawing that batch: saving it with the model
    after the step resumes exactly at the next batch, however far the
    thread has run ahead. ``prefetch=0`` draws synchronously.
    """

    def __init__(self, sampler: CropSampler, prefetch: int = 1) -> None:
        self.sampler = sampler
        self.prefetch = prefetch
        self._queue: "queue.Queue[Tuple[Any, Any]]" = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                item: Tuple[Any, Any] = (self.sampler.next_batch(), self.sampler.state_dict())
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                item = (exc, None)
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item[1] is None:
                return

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, Dict[str, Any]]]:
        return self

    def __next__(self) -> Tuple[torch.Tensor, Dict[str, Any]]:
        if self.prefetch <= 0:
            return self.sampler.next_batch(), self.sampler.state_dict()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="painterly-data", daemon=True)
            self._thread.start()
        batch, state = self._queue.get()
        if state is None:
            raise batch
        return batch, state

    def close(self) -> None:
        """Stop the background thread (batches it prepared are dropped)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


__all__ = ["IMAGE_EXTENSIONS", "SCALE_RANGE", "BatchStream", "CropSampler", "load_crop", "scan_images"]
