"""The frame around every one-pass stylizer: read a photo, paint its pixels, hand back or write the result.

A *paint* function takes a uint8 (H, W, 3) RGB photo and returns a new uint8
array of the same size (the feed-forward and AdaIN stylizers'
``stylize_array`` with their model and settings bound). These helpers do the
rest the same way for both: reading at ``config.size`` under
``config.max_pixels``, returning the caller's kind of image, and writing
files atomically.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Tuple, Union

import numpy as np

from ..config import StylizeConfig

PathLike = Union[str, "os.PathLike[str]"]
#: uint8 (H, W, 3) RGB in, a new uint8 (H, W, 3) array out.
Paint = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Painted:
    """One file painted by :func:`paint_file`.

    Attributes:
        path: the file written.
        size: (width, height) of the output in px.
        seconds: wall time from reading to written.
    """

    path: Path
    size: Tuple[int, int]
    seconds: float


def paint_image(image: Any, config: StylizeConfig, paint: Paint) -> Any:
    """Paint a path, file object, PIL image or tensor; return the same kind (see :func:`~painterly.imaging.io.image_like`)."""
    from .io import image_like, load_array

    pixels = load_array(image, size=config.size or None, max_pixels=config.max_pixels)
    return image_like(paint(pixels), image)


def paint_file(source: Any, output: PathLike, config: StylizeConfig, paint: Paint, quality: int = 95) -> Painted:
    """Read ``source``, paint it and write ``output`` atomically (the extension picks the format).

    Raises:
        ImageError: unreadable input; OutputError: unwritable output.
    """
    from PIL import Image

    from .io import load_array, save_image

    start = time.perf_counter()
    pixels = load_array(source, size=config.size or None, max_pixels=config.max_pixels)
    height, width = pixels.shape[:2]
    out = paint(pixels)
    del pixels  # the input's memory is free before the output is encoded
    path = save_image(Image.fromarray(out), output, quality=quality)
    return Painted(path=path, size=(width, height), seconds=time.perf_counter() - start)


__all__ = ["Paint", "Painted", "paint_file", "paint_image"]
