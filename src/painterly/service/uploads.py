"""Checking uploaded images before anything else touches them.

An upload is copied to a file whose name the server chooses (never the
user's), counting bytes as it goes so a chunked upload without a length is
stopped at the limit too. Then it must be one of the raster formats below by
its first bytes, whatever its name or declared type says (SVG, HTML and
anything else textual are refused: a browser could run them), its pixel count
is checked from the header before decoding (decompression bombs cost
nothing), and it must decode completely (truncated or corrupt files are
refused here, not in a worker).

No web dependency: :func:`store_upload` takes any binary file object.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional, Tuple

from .errors import ApiError

#: Accepted formats: magic-byte test, file extension, media type.
FORMATS = {
    "JPEG": (".jpg", "image/jpeg"),
    "PNG": (".png", "image/png"),
    "WEBP": (".webp", "image/webp"),
    "GIF": (".gif", "image/gif"),
    "BMP": (".bmp", "image/bmp"),
    "TIFF": (".tif", "image/tiff"),
}

_CHUNK = 1 << 16


def sniff(head: bytes) -> Optional[str]:
    """The image format of a file from its first bytes (a key of :data:`FORMATS`), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:2] == b"BM" and len(head) >= 26:
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def _looks_textual(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<?xml") or b"<svg" in text[:1024]:
        return "an SVG/XML file"
    if text.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<script")) or b"<html" in text[:1024]:
        return "an HTML file"
    return ""


@dataclass(frozen=True)
class StoredImage:
    """An upload that passed every check.

    Attributes:
        path: where it was stored (a name the server chose).
        format: a key of :data:`FORMATS`.
        size: (width, height) in px.
        bytes: file size.
        name: the name the client gave, cut to 100 characters: for display only.
    """

    path: Path
    format: str
    size: Tuple[int, int]
    bytes: int
    name: str

    @property
    def media_type(self) -> str:
        return FORMATS[self.format][1]


def display_name(name: Optional[str]) -> str:
    """A client's file name made harmless for display: its last part, printable, at most 100 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(ch for ch in base if ch.isprintable())
    return clean[:100]


def store_upload(source: BinaryIO, stem: Path, *, field: str, max_bytes: int, max_pixels: int,
                 client_name: Optional[str] = None) -> StoredImage:
    """Copy an uploaded image to ``stem`` + the extension of its real format, after every check.

    Args:
        source: the upload, read from its current position.
        stem: target path without extension, chosen by the server.
        field: the form field, named in errors.
        max_bytes: larger uploads are refused (413) as soon as they pass the limit.
        max_pixels: images with more pixels are refused (413) from their header.
        client_name: the name the client sent (kept for display only).

    Raises:
        ApiError: 413 too large, 415 not an accepted image format (SVG, HTML,
            text, PDF, ...), 400 empty, truncated or corrupt.
    """
    from ..errors import ImageError, ImageTooLargeError
    from ..imaging.io import open_image

    stem.parent.mkdir(parents=True, exist_ok=True)
    partial = stem.with_name(stem.name + ".upload")
    total = 0
    try:
        with open(partial, "wb") as out:
            while True:
                chunk = source.read(_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise ApiError(413, f"{field}: the file is over the upload limit of {_mb(max_bytes)}", field=field)
                out.write(chunk)
        if total == 0:
            raise ApiError(400, f"{field}: the file is empty (0 bytes)", field=field)
        with open(partial, "rb") as handle:
            head = handle.read(2048)
        fmt = sniff(head)
        if fmt is None:
            what = _looks_textual(head) or "not an image this server accepts"
            raise ApiError(
                415, f"{field}: {what}; upload a JPEG, PNG, WebP, GIF, BMP or TIFF image", field=field
            )
        try:
            with open(partial, "rb") as handle:
                image = open_image(handle, max_pixels=max_pixels)
        except ImageTooLargeError:
            raise ApiError(413, f"{field}: the image has more than {max_pixels:,} pixels", field=field) from None
        except ImageError:
            raise ApiError(400, f"{field}: cannot read the image: truncated or corrupt {fmt} data", field=field) from None
        except MemoryError:
            raise ApiError(413, f"{field}: the image is too large to decode", field=field) from None
        size = image.size
        del image
        path = stem.with_suffix(FORMATS[fmt][0])
        os.replace(partial, path)
        return StoredImage(path, fmt, size, total, display_name(client_name))
    finally:
        if partial.exists():
            partial.unlink()


def _mb(n: int) -> str:
    return f"{n / (1 << 20):g} MB"


__all__ = ["FORMATS", "StoredImage", "display_name", "sniff", "store_upload"]
