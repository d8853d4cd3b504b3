"""painterly: neural style transfer (Gatys optimization, feed-forward and arbitrary-style).

The public API is imported lazily so ``import painterly`` stays cheap (no torch
import until an algorithm is used)::

    import painterly
    image = painterly.transfer("photo.jpg", ["starry_night.jpg"], painterly.TransferConfig(size=384))
    image = painterly.stylize("photo.jpg", "wave")                       # a trained style
    image = painterly.stylize("photo.jpg", style_images=["monet.jpg"])   # any painting
    image.save("out.png")
"""

from __future__ import annotations

from .lazy import lazy_exports


__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "TransferConfig": "painterly.config",
    "StylizeConfig": "painterly.config",
    "TrainConfig": "painterly.config",
    "AdaINTrainConfig": "painterly.config",
    "config_from_dict": "painterly.config",
    "config_from_json": "painterly.config",
    "config_to_dict": "painterly.config",
    "PainterlyError": "painterly.errors",
    "ConfigError": "painterly.errors",
    "ImageError": "painterly.errors",
    "ModelError": "painterly.errors",
    "Cancelled": "painterly.errors",
    "Progress": "painterly.progress",
    "transfer": "painterly.jobs.api",
    "stylize": "painterly.jobs.api",
    "load_model": "painterly.jobs.api",
    "list_models": "painterly.jobs.api",
    "set_threads": "painterly.jobs.api",
    "JobSpec": "painterly.jobs.run",
    "run_job": "painterly.jobs.run",
    "batch": "painterly.batch.entry",
    "stylize_video": "painterly.video.run",
    "VideoConfig": "painterly.video.config",
    "run_transfer": "painterly.gatys.run",
    "TransferResult": "painterly.gatys.run",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
