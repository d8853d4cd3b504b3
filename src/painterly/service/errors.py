"""The one error type of the HTTP layer: a status, a message and the field at fault."""

from __future__ import annotations

from typing import Any, Dict, Optional


class ApiError(Exception):
    """An error answered as ``{"error": message, "field": ...}`` with a 4xx status.

    Args:
        status: the HTTP status (400, 401, 404, 413, 415, 422, 429, ...).
        message: one line for the user, naming the bad value.
        field: the request field or config setting at fault.
        headers: extra response headers (``Retry-After``).
        extra: more JSON fields (``choices``, ``value``).
    """

    def __init__(self, status: int, message: str, *, field: Optional[str] = None,
                 headers: Optional[Dict[str, str]] = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> Dict[str, Any]:
        """The JSON answer."""
        out: Dict[str, Any] = {"error": self.message}
        if self.field:
            out["field"] = self.field
        out.update({k: v for k, v in self.extra.items() if v is not None})
        return out


__all__ = ["ApiError"]
