"""Bytecode for painterly's sources, as ``pip install`` leaves it, before whole commands are timed.

The peers are installed from wheels, whose modules pip compiles at install
time; painterly runs from its source tree here. Where ``PYTHONDONTWRITEBYTECODE``
is set (this sandbox sets it) every painterly command would compile its ~40
modules again (about 70 ms a start) and be timed for it.
"""

from __future__ import annotations

import compileall
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "painterly"


def compile_sources() -> None:
    """Write the ``__pycache__`` files of every painterly module (a no-op when they are current)."""
    compileall.compile_dir(str(SRC), quiet=1)


__all__ = ["compile_sources"]
