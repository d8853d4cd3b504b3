"""``painterly.batch`` as a public name: the package itself, which is callable like its ``batch()``.

The top-level lazy exports map ``batch`` here, so ``painterly.batch`` is the
same object whether it was reached by attribute or by importing a submodule.
"""

from __future__ import annotations

import importlib

batch = importlib.import_module("painterly.batch")

__all__ = ["batch"]
