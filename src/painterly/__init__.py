"""painterly: neural style transfer (Gatys optimization, feed-forward and arbitrary-style).

The public API is imported lazily so ``import painterly`` stays cheap (no torch
import until an algorithm is used)::

    import painterly
    image = painterly.transfer("photo.jpg", ["starry_night.jpg"], painterly.TransferConfig(size=384))
    image.save("out.png")
"""

from __future__ import annotations

from .lazy import lazy_exports


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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
