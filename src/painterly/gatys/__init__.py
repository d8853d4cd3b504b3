"""Optimization-based neural style transfer (Gatys et al. 2015).

The package is named ``gatys`` rather than ``transfer`` (DESIGN.md's name) because
``painterly.transfer`` is the public function: a same-named subpackage would replace
it as an attribute of ``painterly`` as soon as it was imported.
"""

from .run import TransferResult, run_transfer

__all__ = ["TransferResult", "run_transfer"]
