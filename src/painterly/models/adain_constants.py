"""The AdaIN model's constants, torch-free: the one source for the torch model
(:mod:`painterly.models.adain`) and the onnxruntime path (:mod:`painterly.arbitrary.runtime`)."""

from __future__ import annotations

from typing import Tuple

#: ``kind`` of AdaIN model files (see :mod:`painterly.models.kinds`).
KIND = "adain"
#: ``architecture`` of the decoder.
ARCHITECTURE = "adain-vgg19"
#: The layer AdaIN works on.
ENCODER_LAYER = "relu4_1"
#: Layers of the style loss (the paper's).
STYLE_LAYERS: Tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
#: The encoder's total stride: content sizes are padded to a multiple of it.
STRIDE = 8
#: Smallest content side in px (relu4_1 must be at least 2 x 2 for the decoder's reflection padding).
MIN_SIZE = 16
#: Mirrored border in px (a multiple of :data:`STRIDE`) put around the photo before
#: encoding and cut off after decoding. VGG's zero padding makes the features of the
#: outer ~16 px unlike any the decoder saw inside a picture, and it paints them as
#: streaks along the edges; with the photo mirrored outwards the streaks fall in the
#: border. Costs 13-15% more pixels at 512 px (docs/models.md has the measurements).
BORDER = 16
#: AdaIN's variance epsilon (the paper's code).
EPS = 1e-5
#: The decoder's x2 upsamplings: the paper's nearest-neighbour (each pixel copied to a
#: 2 x 2 block, which the short CPU training turned into a grid at 2, 4 and 8 px) or
#: bilinear (smooth: no block structure for the convolutions to print).
DECODER_UPSAMPLING: Tuple[str, ...] = ("nearest", "bilinear")

__all__ = ["ARCHITECTURE", "BORDER", "DECODER_UPSAMPLING", "ENCODER_LAYER", "EPS", "KIND", "MIN_SIZE", "STRIDE", "STYLE_LAYERS"]
