"""Pictures the service derives: model samples, job thumbnails, results in other formats, previews.

Everything derived is written atomically into the data folder and reused, so
a thumbnail is painted or shrunk once however many clients ask, and a
half-written file is never served.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

#: Long side of the gallery samples and history thumbnails, px.
THUMB_SIDE = 192
#: Long side of the live preview, px.
PREVIEW_SIDE = 512

#: Result formats: query value -> (Pillow format, media type, extension).
RESULT_FORMATS: Dict[str, Tuple[str, str, str]] = {
    "png": ("PNG", "image/png", ".png"),
    "jpeg": ("JPEG", "image/jpeg", ".jpg"),
    "jpg": ("JPEG", "image/jpeg", ".jpg"),
    "webp": ("WEBP", "image/webp", ".webp"),
}

_sample_lock = threading.Lock()


def _data_file(name: str) -> Path:
    import importlib.resources

    return Path(str(importlib.resources.files("painterly") / "data" / name))


def encode(image: Any, fmt: str, quality: int = 90) -> bytes:
    """A PIL image as bytes of Pillow format ``fmt``."""
    buf = io.BytesIO()
    options: Dict[str, Any] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {"compress_level": 3}
    image.convert("RGB").save(buf, format=fmt, **options)
    return buf.getvalue()


def model_sample(name: str, model_path: Path, cache_dir: Path) -> Path:
    """The bundled astronaut photo painted by model ``name`` at :data:`THUMB_SIDE` px, cached.

    The cache name carries the model file's size and time, so replacing a
    model file paints a new sample.

    Raises:
        ModelError: the model cannot be loaded.
    """
    from PIL import Image

    from ..config import StylizeConfig
    from ..imaging.io import load_array, save_image
    from ..jobs.painters import make_painter

    stat = model_path.stat()
    target = cache_dir / f"{name}-{stat.st_size}-{int(stat.st_mtime)}.jpg"
    if target.is_file():
        return target
    with _sample_lock:  # a page asks for all samples at once: paint each once, one at a time
        if target.is_file():
            return target
        cache_dir.mkdir(parents=True, exist_ok=True)
        painter = make_painter("stylize", StylizeConfig(model=name, size=THUMB_SIDE, threads=1))
        pixels = load_array(_data_file("astronaut.jpg"), size=THUMB_SIDE)
        save_image(Image.fromarray(painter.paint(pixels).pixels), target, quality=85)
    return target


def thumbnail(source: Path, target: Path) -> Path:
    """``source`` shrunk to :data:`THUMB_SIDE` px as a JPEG at ``target`` (made once)."""
    from PIL import Image

    from ..imaging.io import open_image, save_image

    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    image = open_image(source)
    image.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    save_image(image, target, quality=80)
    return target


def result_as(source: Path, fmt: str, quality: int = 92) -> Tuple[Path, str]:
    """The result converted to ``fmt`` (png, jpeg, webp) beside it, made once; (path, media type).

    Raises:
        KeyError: an unknown format.
    """
    from ..imaging.io import open_image, save_image

    pil_format, media, ext = RESULT_FORMATS[fmt]
    if source.suffix.lower() == ext:
        return source, media
    target = source.with_name(f"{source.stem}-q{quality}{ext}")
    if not (target.is_file() and target.stat().st_mtime >= source.stat().st_mtime):
        save_image(open_image(source), target, quality=quality)
    return target, media


class PreviewCache:
    """The live preview of running optimization jobs, encoded only when asked and once per step."""

    def __init__(self, keep: int = 16) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._cache: Dict[str, Tuple[Tuple[int, int], bytes]] = {}

    def get(self, job_id: str, event: Any) -> Optional[bytes]:
        """JPEG bytes of ``event``'s picture (None when it has none)."""
        key = (event.item, event.step)
        with self._lock:
            hit = self._cache.get(job_id)
        if hit and hit[0] == key:
            return hit[1]
        picture = event.preview(PREVIEW_SIDE)
        if picture is None:
            return None
        data = encode(picture, "JPEG", quality=85)
        with self._lock:
            self._cache.pop(job_id, None)
            self._cache[job_id] = (key, data)
            while len(self._cache) > self.keep:  # oldest first: finished jobs fall out
                self._cache.pop(next(iter(self._cache)))
        return data

    def drop(self, job_id: str) -> None:
        with self._lock:
            self._cache.pop(job_id, None)


__all__ = ["PREVIEW_SIDE", "PreviewCache", "RESULT_FORMATS", "THUMB_SIDE", "encode", "model_sample",
           "result_as", "thumbnail"]
