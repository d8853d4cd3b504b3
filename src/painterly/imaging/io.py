"""Reading and writing images.

Inputs of any common kind (8/16-bit, palette, gray, CMYK, alpha, rotated by
EXIF, tagged with an ICC profile) become plain sRGB images; outputs are
written atomically so a failed or interrupted save never leaves a truncated
file or destroys an older one.

Tensors at the boundaries are RGB float32 in [0, 1] of shape (1, 3, H, W).

torch is imported only by the functions that make or take tensors, so the
numpy path (:func:`load_array`, :func:`open_image`, :func:`save_image` of PIL
images) works without it: ``painterly stylize`` with an ONNX model must not
pay torch's import time.

The work is split by job: :mod:`~painterly.imaging.decode` (reading),
:mod:`~painterly.imaging.tensors` (tensor conversions) and
:mod:`~painterly.imaging.files` (atomic writing); this module is the one
place callers import them from.
"""

from __future__ import annotations

from .decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, ImageSource, load_array, load_image, open_image
from .files import OUTPUT_FORMATS, PNG_COMPRESS_LEVEL, check_output_path, encode_image, save_image, write_atomic
from .tensors import image_like, image_to_tensor, tensor_to_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageSource",
    "OUTPUT_FORMATS",
    "PNG_COMPRESS_LEVEL",
    "check_output_path",
    "encode_image",
    "image_like",
    "image_to_tensor",
    "load_array",
    "load_image",
    "open_image",
    "save_image",
    "tensor_to_image",
    "write_atomic",
]
