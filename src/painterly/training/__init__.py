"""Pieces shared by the training loops of :mod:`painterly.fast` and :mod:`painterly.arbitrary`.

* :mod:`~painterly.training.data`: random square crops from a folder of photos,
  with an exactly restorable sampler state;
* :mod:`~painterly.training.losscurve`: the loss-curve PNG;
* :mod:`~painterly.training.common`: output paths, device choice, Ctrl-C
  deferral, RNG state, checkpoint read/write and the resume rules.

This package sits beside ``imaging``, ``models`` and ``losses`` in the
dependency order (algorithms do not import each other, so what two training
loops share lives here). Nothing is imported at package import.
"""
