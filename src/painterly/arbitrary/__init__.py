"""Arbitrary-style transfer in one pass: AdaIN (Huang & Belongie 2017).

* :mod:`~painterly.arbitrary.stylize`: paint photos in the style of any
  image with a trained decoder (style interpolation, content-style
  trade-off, two-style masks, guided upsampling to full resolution);
* :mod:`~painterly.arbitrary.runtime`: the model run with torch or
  onnxruntime behind one numpy interface, and AdaIN in numpy;
* :mod:`~painterly.arbitrary.onnx_export`: the ``.onnx`` export (no torch at run time);
* :mod:`~painterly.arbitrary.train`: train the decoder on a folder of
  photos and a folder of paintings.

The network itself (the AdaIN layer, the decoder, the model with the shared
VGG19 encoder) is :mod:`painterly.models.adain`. Names are imported lazily.
"""

from __future__ import annotations

from ..lazy import lazy_exports


#: public name -> module that defines it
_EXPORTS = {
    "ArbitraryStylizer": "painterly.arbitrary.stylize",
    "resolve_adain_model": "painterly.arbitrary.runtime",
    "load_runtime": "painterly.arbitrary.runtime",
    "export_adain_onnx": "painterly.arbitrary.onnx_export",
    "stylize_array": "painterly.arbitrary.stylize",
    "train_adain": "painterly.arbitrary.train",
    "AdaINTrainResult": "painterly.arbitrary.train",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
