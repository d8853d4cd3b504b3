"""Image input/output, resizing and colour operations.

Tensors are RGB float in [0, 1] of shape (B, 3, H, W) (B = 1 from the loaders).
Import cost is Pillow, numpy and torch only; nothing is read at import.
"""

from painterly.imaging.color import (
    HISTOGRAM_MODES,
    combine_luminance,
    luminance,
    match_histogram,
    match_luminance,
    rgb_to_yiq,
    yiq_to_rgb,
)
from painterly.imaging.io import (
    DEFAULT_MAX_PIXELS,
    OUTPUT_FORMATS,
    check_output_path,
    image_to_tensor,
    load_image,
    open_image,
    save_image,
    tensor_to_image,
    write_atomic,
)
from painterly.imaging.resize import (
    RESAMPLE_MODES,
    fit_long_side,
    resize_long_side,
    resize_tensor,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HISTOGRAM_MODES",
    "OUTPUT_FORMATS",
    "RESAMPLE_MODES",
    "check_output_path",
    "combine_luminance",
    "fit_long_side",
    "image_to_tensor",
    "load_image",
    "luminance",
    "match_histogram",
    "match_luminance",
    "open_image",
    "resize_long_side",
    "resize_tensor",
    "rgb_to_yiq",
    "save_image",
    "tensor_to_image",
    "write_atomic",
    "yiq_to_rgb",
]
