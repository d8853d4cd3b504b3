"""Exceptions raised by painterly.

Every error the library raises on purpose is a :class:`PainterlyError`; each
subclass also subclasses the matching builtin so callers can catch either.
The CLI maps them to exit codes and one-line messages; the web layer to 4xx.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterable, Optional, Sequence


class PainterlyError(Exception):
    """Base class of all errors painterly raises on purpose."""

    exit_code = 1


class UsageError(PainterlyError, ValueError):
    """A bad option value or combination (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration value out of range or unknown.

    Attributes:
        field: the config field at fault (``style_weight``), so the CLI can
            name its option and the web layer the JSON key; taken from the
            message's leading word when not given.
        value: the offending value (None when unknown).
        choices: the allowed values, when they are a short list.
    """

    def __init__(
        self, message: str, *, field: Optional[str] = None, value: Any = None, choices: Sequence[Any] = ()
    ) -> None:
        super().__init__(message)
        lead = re.match(r"([a-z][a-z0-9_]*)\b", message)
        if field is None and lead and ("_" in lead.group(1) or lead.group(1) in _SHORT_FIELDS):
            field = lead.group(1)
        self.field = field
        self.value = value
        self.choices = tuple(choices)


#: One-word config field names a message may start with (others contain "_").
_SHORT_FIELDS = {
    "size", "iterations", "optimizer", "lr", "init", "seed", "pooling", "tolerance", "device", "threads",
    "model", "strength", "backend", "alpha", "mask", "upsample", "architecture", "width", "data", "output",
    "styles", "content", "style", "quality",
}


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


class Cancelled(PainterlyError):
    """The work was stopped by its cancel event (or Ctrl-C / SIGTERM in the CLI).

    Attributes:
        image: the best image so far (PIL RGB), or None when there is none yet.
        result: the full result object of the stopped work where there is one
            (a :class:`~painterly.gatys.run.TransferResult`, a training run, a
            job's results).
    """

    exit_code = 130

    def __init__(self, message: str = "cancelled", *, image: Any = None, result: Any = None) -> None:
        super().__init__(message)
        self.image = image
        self.result = result


class MissingDependencyError(PainterlyError, ImportError):
    """An optional dependency (an extra such as ``painterly[serve]``) is not installed."""


def require(module: str, extra: str) -> object:
    """Import ``module`` or raise :class:`MissingDependencyError` with the pip command that installs it.

    Args:
        module: the import name (``fastapi``, ``av``, ``ray``).
        extra: painterly's extra that brings it (``serve``, ``video``, ``cluster``).
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"this needs the '{module}' package: pip install 'painterly[{extra}]' "
            f"(from a checkout: pip install -e '.[{extra}]')"
        ) from None
