"""``-`` as standard input or output for a single image (``painterly stylize - -o - < a.jpg > b.png``)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any, Optional

from ..errors import UsageError

#: Formats ``--format`` accepts for an image written to standard output.
STREAM_FORMATS = ("png", "jpg", "webp")


def uses_streams(inputs: Any, output: str) -> bool:
    """True when the command reads the photo from stdin or writes the result to stdout.

    Raises:
        UsageError: ``-`` among several inputs (a stream holds one image).
    """
    inputs = list(inputs)
    if "-" in inputs and len(inputs) > 1:
        raise UsageError("'-' (standard input) holds one image; give it as the only input")
    return "-" in inputs or output == "-"


def paint_stream(painter: Any, source: str, output: str, fmt: Optional[str], quality: int,
                 on_progress: Any = None, cancel: Any = None) -> Any:
    """Read one photo (``-``: stdin), paint it, write the result (``-``: stdout); return the Painting.

    Raises:
        ImageError, OutputError, Cancelled: as the painter and the image readers raise them.
    """
    from PIL import Image

    from ..imaging.io import encode_image, save_image
    from ..jobs.run import read_pixels

    from ..errors import Cancelled

    src: Any = io.BytesIO(sys.stdin.buffer.read()) if source == "-" else Path(source)
    stopped: Optional[Cancelled] = None
    try:
        painting = painter.paint(read_pixels(src, painter), on_progress=on_progress, cancel=cancel)
    except Cancelled as exc:
        if exc.result is None:
            raise
        painting, stopped = exc.result, exc  # the best image so far is still written
    picture = Image.fromarray(painting.pixels)
    if output == "-":
        suffix = "." + (fmt or "png")
        sys.stdout.buffer.write(encode_image(picture, suffix, quality))
        sys.stdout.buffer.flush()
    else:
        save_image(picture, output, quality=quality)
    if stopped is not None:
        raise stopped
    return painting


__all__ = ["STREAM_FORMATS", "paint_stream", "uses_streams"]
