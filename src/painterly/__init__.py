"""painterly: neural style transfer (Gatys optimization, feed-forward and arbitrary-style).

The public API is imported lazily so ``import painterly`` stays cheap (no torch
import until an algorithm is used)::

    import painterly
    image = painterly.transfer("photo.jpg", ["starry_night.jpg"], painterly.TransferConfig(size=384))
    image.save("out.png")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "TransferConfig": "painterly.config",
    "PainterlyError": "painterly.errors",
    "Progress": "painterly.progress",
    "transfer": "painterly.gatys.run",
    "run_transfer": "painterly.gatys.run",
    "TransferResult": "painterly.gatys.run",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'painterly' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(__all__)
