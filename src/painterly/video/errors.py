"""Errors of the video module (subclasses of the library's, so the CLI maps them as usual)."""

from __future__ import annotations

from ..errors import ImageError, ImageNotFoundError


class VideoError(ImageError):
    """An input that is not a usable video: corrupt, no video stream, no frames in range."""


class VideoNotFoundError(VideoError, ImageNotFoundError):
    """The video file (or frame folder / pattern) does not exist."""


__all__ = ["VideoError", "VideoNotFoundError"]
