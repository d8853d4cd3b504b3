"""Image input/output, resizing and colour operations.

Tensors are RGB float in [0, 1] of shape (B, 3, H, W) (B = 1 from the loaders).
Names are imported lazily on first use, so ``from painterly.imaging import
load_array, save_image`` costs Pillow and numpy only: the ONNX stylize path
runs without torch (``array_color`` has numpy twins of the colour helpers for
it). Nothing is read at import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> submodule that defines it
_EXPORTS = {
    "HISTOGRAM_MODES": "color",
    "combine_luminance": "color",
    "luminance": "color",
    "match_histogram": "color",
    "match_luminance": "color",
    "rgb_to_yiq": "color",
    "yiq_to_rgb": "color",
    "blend_array": "array_color",
    "combine_luminance_array": "array_color",
    "match_histogram_array": "array_color",
    "DEFAULT_MAX_PIXELS": "io",
    "OUTPUT_FORMATS": "io",
    "check_output_path": "io",
    "image_to_tensor": "io",
    "load_array": "io",
    "load_image": "io",
    "open_image": "io",
    "save_image": "io",
    "tensor_to_image": "io",
    "write_atomic": "io",
    "RESAMPLE_MODES": "resize",
    "fit_long_side": "resize",
    "resize_long_side": "resize",
    "resize_tensor": "resize",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from painterly.imaging.array_color import (
        blend_array,
        combine_luminance_array,
        match_histogram_array,
    )
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
        load_array,
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'painterly.imaging' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"painterly.imaging.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
