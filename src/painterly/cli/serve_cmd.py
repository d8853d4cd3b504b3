"""The ``painterly serve``  subcommand (being built: registers nothing yet)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand to ``subparsers``."""
