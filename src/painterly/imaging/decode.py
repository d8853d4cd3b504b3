"""Decoding images of any common kind into plain 8-bit sRGB, with the checks hostile files need.

EXIF orientation, ICC profiles, 16-bit and float modes, palettes, alpha, CMYK;
the pixel limit checked from the header before decoding (decompression bombs
cost nothing). torch is imported only by :func:`load_image`.
"""

from __future__ import annotations

import io
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Union

import numpy as np
from PIL import Image, ImageCms, ImageOps

from painterly.errors import ImageError, ImageNotFoundError, ImageTooLargeError, PainterlyError, UsageError, did_you_mean

from .tensors import _is_tensor, _tensor_to_pil, image_to_tensor

if TYPE_CHECKING:  # torch is imported lazily
    import torch

#: File name extensions taken as images when a folder is searched (inputs, training data).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")

#: Default limit on decoded pixels: 40 MP is about a 7700 x 5200 photo, far
#: more than style transfer can use, yet 160 MB of RGB floats per copy.
DEFAULT_MAX_PIXELS = 40_000_000


ImageSource = Union[str, os.PathLike, Image.Image, "torch.Tensor", BinaryIO]

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")

# Pillow's decompression-bomb limit is a module global. We lift it while we
# open and decode so that our own max_pixels (checked from the header before
# decoding) is the only limit; the lock keeps concurrent calls from restoring
# it under each other's feet.
_PIL_LIMIT_LOCK = threading.RLock()


class _PilLimitLifted:
    def __enter__(self) -> None:
        _PIL_LIMIT_LOCK.acquire()
        self._saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None

    def __exit__(self, *exc: object) -> None:
        Image.MAX_IMAGE_PIXELS = self._saved
        _PIL_LIMIT_LOCK.release()


def _corrupt(name: str) -> ImageError:
    return ImageError(f"cannot read image {name}: not an image or corrupt")


def _check_pixels(size: tuple[int, int], max_pixels: int | None, name: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"image {name} is empty ({width}x{height} pixels)")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f"image {name} is {width}x{height} = {width * height:,} pixels, over the "
            f"limit of {max_pixels:,}; shrink it first or raise max_pixels"
        )


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _apply_icc(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert pixels from their embedded ICC profile to sRGB.

    Best effort: a broken, unsupported or mismatched profile leaves the image
    unconverted, because showing slightly-off colours beats refusing a photo.
    """
    if not icc or img.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return img
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        # Skip sRGB profiles: converting to our own sRGB would only add
        # rounding noise (and differ by a level here and there).
        if "srgb" in (profile.profile.profile_description or "").lower():
            return img
        alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
        color = img.convert(img.mode[:-1]) if alpha is not None else img
        out = ImageCms.profileToProfile(color, profile, _srgb_profile(), outputMode="RGB")
        if out is None:  # only returned for inPlace=True; keeps type checkers quiet
            return img
        if alpha is not None:
            out.putalpha(alpha)
        return out
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img


def _sixteen_bit_to_l(img: Image.Image) -> Image.Image:
    # Pillow's convert("L") clips these modes at 255 instead of scaling, so a
    # 16-bit mid-gray (32768) would come out white. Scale by 255/65535 = 1/257
    # (which maps 0 -> 0 and 65535 -> 255 exactly). Mode "I" is 32-bit, but
    # Pillow uses it for 16-bit data (PGM, old PNG readers); values beyond 16
    # bits are treated as the full range of the image instead.
    arr = np.asarray(img).astype(np.float64)
    arr = np.clip(arr, 0, None)
    top = arr.max(initial=0.0)
    scale = 255.0 / top if top > 65535 else 1.0 / 257.0
    return Image.fromarray(np.round(arr * scale).clip(0, 255).astype(np.uint8), mode="L")


def _float_to_l(img: Image.Image) -> Image.Image:
    # Float images have no agreed range: treat [0, 1] data as such and
    # anything larger as 8-bit levels (Pillow's own convention).
    arr = np.nan_to_num(np.asarray(img).astype(np.float64), nan=0.0)
    if arr.size and arr.max() <= 1.0:
        arr = arr * 255.0
    return Image.fromarray(np.round(arr).clip(0, 255).astype(np.uint8), mode="L")


def _simplify_mode(img: Image.Image) -> Image.Image:
    """Reduce exotic modes to RGB, RGBA, L, LA or CMYK (what ICC handles)."""
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_l(img)
    if mode == "F":
        return _float_to_l(img)
    if mode in ("RGB", "RGBA", "L", "LA", "CMYK") and "transparency" not in img.info:
        return img
    if mode in ("P", "PA", "RGBa", "RGBX") or "transparency" in img.info:
        # Palette transparency and tRNS colour keys become a real alpha
        # channel, composited later like any other.
        has_alpha = mode in _ALPHA_MODES or "transparency" in img.info
        return img.convert("RGBA" if has_alpha else "RGB")
    if mode == "La":
        return img.convert("LA")
    if mode == "1":
        return img.convert("L")
    return img


def _to_rgb(img: Image.Image, name: str) -> Image.Image:
    """Final conversion to RGB: alpha composited over white."""
    if img.mode == "RGB":
        return img
    if img.mode in _ALPHA_MODES:
        # Over white rather than black: transparent areas of logos and
        # scans are meant to be paper, and black would read as dark content.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode == "LAB":
        try:
            lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
            out = ImageCms.profileToProfile(img, lab, _srgb_profile(), outputMode="RGB")
            if out is not None:
                return out
        except (ImageCms.PyCMSError, ValueError):
            pass
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageError(
            f"cannot read image {name}: unsupported colour mode {img.mode}"
        ) from exc


def _normalize(img: Image.Image, name: str) -> Image.Image:
    """Orientation, colour profile and mode of a loaded image -> sRGB RGB."""
    icc = img.info.get("icc_profile")
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - malformed EXIF should not lose the image
        pass
    img = _simplify_mode(img)
    img = _apply_icc(img, icc)
    return _to_rgb(img, name)


def _source_name(source: object) -> str:
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, (str, os.PathLike)) else "<stream>"


def _open_file(
    source: str | os.PathLike | BinaryIO, name: str, max_pixels: int | None, at_least: int | None = None
) -> Image.Image:
    try:
        with _PilLimitLifted():
            with Image.open(source) as img:
                _check_pixels(img.size, max_pixels, name)
                # Animated GIF/PNG/WebP: use the first frame. open() starts
                # there already; is_animated peeks at frame 1, so go back.
                if getattr(img, "is_animated", False):
                    img.seek(0)
                if at_least is not None and at_least > 0 and img.format == "JPEG" and max(img.size) > 2 * at_least:
                    # A JPEG decodes at 1/2, 1/4 or 1/8 scale for a fraction of the cost
                    # (a 22-megapixel painting for a 320 px style: 0.11 s instead of 0.59 s). Keep
                    # twice the wanted long side, as Pillow's thumbnail() does, so the
                    # antialiased resize that follows still has the detail it needs.
                    from painterly.imaging.resize import fit_long_side

                    img.draft(None, fit_long_side(img.width, img.height, 2 * at_least))
                # Decode now, inside the try, so a truncated file fails here
                # with a clear message rather than deep inside a later step.
                img.load()
                result = _normalize(img, name)
                # Closing the file destroys the decoded core of `img`, so
                # never hand back the very object the `with` closes.
                return img.copy() if result is img else result
    except (PainterlyError, MemoryError):
        raise
    except PermissionError as exc:
        raise ImageError(f"cannot read image {name}: permission denied") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for bad data
        raise _corrupt(name) from exc


def open_image(
    source: ImageSource, max_pixels: int | None = DEFAULT_MAX_PIXELS, at_least: int | None = None
) -> Image.Image:
    """Open an image of any common kind as a plain 8-bit sRGB image.

    Handles: EXIF orientation (applied, so the image is upright); embedded
    ICC profiles (converted to sRGB, or ignored when broken); modes L, LA, P
    (with or without transparency), RGBA, CMYK, 16-bit gray (I;16, I;16B, I,
    scaled by 1/257 rather than clipped), F, 1 and RGB. Transparency is
    composited over white. Animated images give their first frame.

    Args:
        source: A path (str or PathLike), a binary file object, a PIL image,
            or a tensor (3, H, W) / (1, 3, H, W) of floats in [0, 1].
        max_pixels: Refuse images with more pixels than this (``None``: no
            limit). Checked from the file header before decoding, so a
            decompression bomb costs nothing; Pillow's own limit is lifted
            so this one applies in both directions.
        at_least: The caller will shrink the image to this long side: a large
            JPEG file may then be decoded at a reduced scale (1/2 to 1/8,
            never below twice this), much faster.

    Returns:
        A loaded PIL image in mode ``"RGB"``, size (W, H). Never the object
        passed in.

    Raises:
        ImageNotFoundError: The path does not exist.
        ImageTooLargeError: More than ``max_pixels`` pixels.
        ImageError: A folder, an empty, truncated or non-image file, a
            0-pixel image, or a tensor of the wrong shape.
    """
    if _is_tensor(source):
        img = _tensor_to_pil(source)
        _check_pixels(img.size, max_pixels, "<tensor>")
        return img
    if isinstance(source, Image.Image):
        _check_pixels(source.size, max_pixels, "<PIL image>")
        try:
            with _PilLimitLifted():
                source.load()
        except Exception as exc:  # noqa: BLE001
            raise _corrupt("<PIL image>") from exc
        result = _normalize(source, "<PIL image>")
        return source.copy() if result is source else result
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageNotFoundError(f"image not found: {path}")
        if path.is_dir():
            raise ImageError(f"cannot read image {path}: it is a folder, not a file")
        if path.stat().st_size == 0:
            raise ImageError(f"cannot read image {path}: the file is empty")
        return _open_file(path, str(path), max_pixels, at_least)
    if hasattr(source, "read"):
        return _open_file(source, _source_name(source), max_pixels, at_least)
    raise UsageError(
        f"cannot open {type(source).__name__} as an image; "
        "pass a path, a file object, a PIL image or a tensor"
    )



def load_image(
    source: ImageSource,
    size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    resample: str = "bicubic",
) -> torch.Tensor:
    """Open an image and return it as a tensor, optionally resized.

    Args:
        source: See :func:`open_image`.
        size: If given, resize so the long side is ``size`` pixels (up or
            down), keeping the aspect ratio.
        max_pixels: See :func:`open_image`; applies to the file as stored,
            before resizing.
        resample: Interpolation mode for the resize (see
            :data:`painterly.imaging.resize.RESAMPLE_MODES`); antialiased
            when shrinking.

    Returns:
        float32 tensor (1, 3, H, W) in [0, 1].
    """
    from painterly.imaging.resize import resize_long_side

    tensor = image_to_tensor(open_image(source, max_pixels=max_pixels))
    if size is not None:
        tensor = resize_long_side(tensor, size, mode=resample)
    return tensor


#: Pillow filters for the resample names of :func:`load_array` (the names of
#: :data:`painterly.imaging.resize.RESAMPLE_MODES`; Pillow antialiases when shrinking).
_PIL_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
    "nearest-exact": Image.Resampling.NEAREST,
}


def load_array(
    source: ImageSource,
    size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    resample: str = "bicubic",
    draft: bool = False,
) -> np.ndarray:
    """Open an image as a numpy array, optionally resized; the torch-free :func:`load_image`.

    Args:
        source: See :func:`open_image`.
        size: If given, resize so the long side is ``size`` pixels (up or
            down), keeping the aspect ratio, with Pillow's filter of that name
            (antialiased when shrinking, so it differs from :func:`load_image`'s
            torch resize by a level or two).
        max_pixels: See :func:`open_image`; applies to the file as stored.
        resample: bicubic, bilinear, area, nearest or nearest-exact.
        draft: With ``size``, let a large JPEG decode at a reduced scale first
            (:func:`open_image`'s ``at_least``): much faster, but the size is
            then fitted to the reduced image, so the short side may differ by
            a pixel from a full decode's. For inputs whose exact size does not
            matter (style images).

    Returns:
        uint8 array (H, W, 3), RGB, C-contiguous: a quarter of the memory of
        a float32 copy, which matters for 24-megapixel photos.

    Raises:
        UsageError: Unknown ``resample`` mode or a bad ``size``.
        ImageError: See :func:`open_image`.
    """
    from painterly.imaging.resize import fit_long_side

    if resample not in _PIL_RESAMPLE:
        raise UsageError(
            f"unknown resample mode {resample!r}; use one of {', '.join(_PIL_RESAMPLE)}"
            + did_you_mean(resample, _PIL_RESAMPLE)
        )
    img = open_image(source, max_pixels=max_pixels, at_least=size if draft else None)
    if size is not None:
        new_size = fit_long_side(img.width, img.height, size)
        if new_size != img.size:
            img = img.resize(new_size, _PIL_RESAMPLE[resample])
    return np.array(img, dtype=np.uint8)  # a writable copy, independent of Pillow




__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "ImageSource", "load_array", "load_image", "open_image"]
