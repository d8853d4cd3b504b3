"""Exceptions raised by painterly.

Every error the library raises on purpose is a :class:`PainterlyError`; each
subclass also subclasses the matching builtin so callers can catch either.
The CLI maps them to exit codes and one-line messages; the web layer to 4xx.
"""

from __future__ import annotations

import difflib
from typing import Iterable


class PainterlyError(Exception):
    """Base class of all errors painterly raises on purpose."""

    exit_code = 1


class UsageError(PainterlyError, ValueError):
    """A bad option value or combination (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration value out of range or unknown."""


class ImageError(PainterlyError, ValueError):
    """An input that is not a usable image: missing, corrupt, empty, too large."""


class ImageNotFoundError(ImageError, FileNotFoundError):
    """The image file does not exist."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than the configured limit."""


class OutputError(PainterlyError, OSError):
    """The output cannot be written (missing folder, unknown format, ...)."""


class WeightsError(PainterlyError, RuntimeError):
    """The VGG19 weights cannot be found or decoded."""


class ModelError(PainterlyError, ValueError):
    """A style model that cannot be found or used: unknown name, corrupt file,
    not a painterly model, or written by a newer painterly."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
