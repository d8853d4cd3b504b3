"""Training data for feed-forward networks: moved to :mod:`painterly.training.data`.

The crop sampler is shared with AdaIN decoder training (:mod:`painterly.arbitrary`),
and algorithms do not import each other, so it lives one layer down now; this
module re-exports it so existing imports keep working.
"""

from __future__ import annotations

from ..training.data import (  # noqa: F401 - re-exports
    IMAGE_EXTENSIONS,
    SCALE_RANGE,
    BatchStream,
    CropSampler,
    load_crop,
    scan_images,
)

__all__ = ["IMAGE_EXTENSIONS", "SCALE_RANGE", "BatchStream", "CropSampler", "load_crop", "scan_images"]
