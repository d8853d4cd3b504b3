"""An ASGI layer around the app: security headers, the bearer token and the request-body limit.

Plain ASGI rather than a Starlette ``BaseHTTPMiddleware`` so event streams
pass through unbuffered. The body limit counts the bytes actually received,
so a chunked upload without a ``Content-Length`` stops at the limit too.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from .errors import ApiError

#: The page loads scripts, styles and images from this server only; images may be
#: blob:/data: URLs (the picked photo is shown before upload).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

SECURITY_HEADERS: List[Tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

#: Cookie the page stores the token in (an EventSource and an <img> cannot send headers).
TOKEN_COOKIE = "painterly_token"

#: Paths open without the token: the page and its assets load, then ask for it.
PUBLIC_API = ("/api/health",)

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> Optional[str]:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class Guard:
    """Wrap ``app``.

    Args:
        app: the ASGI app.
        token: when set, every ``/api/`` request but :data:`PUBLIC_API` needs
            ``Authorization: Bearer <token>`` (or the page's cookie).
        max_body: largest request body in bytes (413 beyond it).
        shown_limit: the limit named in the error (the upload limit; the body
            may be a little larger for the form fields around the file).
    """

    def __init__(self, app: Any, token: str = "", max_body: int = 50 << 20, shown_limit: int = 0) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body
        self.shown_limit = shown_limit or max_body

    def authorized(self, scope: Scope) -> bool:
        given = ""
        auth = _header(scope, b"authorization") or ""
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        else:
            cookie = _header(scope, b"cookie")
            if cookie:
                jar = SimpleCookie()
                try:
                    jar.load(cookie)
                except Exception:  # noqa: BLE001 - a malformed cookie is no token
                    jar = SimpleCookie()
                if TOKEN_COOKIE in jar:
                    given = jar[TOKEN_COOKIE].value
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in present
                ]
            await send(message)

        path = scope.get("path", "")
        if (self.token and path.startswith("/api/") and path not in PUBLIC_API
                and scope.get("method") != "OPTIONS" and not self.authorized(scope)):
            await _answer(send_with_headers, ApiError(
                401, "this server needs a token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"}))
            return
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            length = _header(scope, b"content-length")
            if length is not None and length.strip().isdigit() and int(length) > self.max_body:
                await _answer(send_with_headers, _too_large(self.shown_limit))
                return
            receive = self._counting(receive)
        await self.app(scope, receive, send_with_headers)

    def _counting(self, receive: Receive) -> Receive:
        seen = [0]

        async def counted() -> Dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > self.max_body:
                    # Raised inside the endpoint that reads the body, where the
                    # app's ApiError handler turns it into a 413.
                    raise _too_large(self.shown_limit)
            return message

        return counted


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request is over the upload limit of {limit / (1 << 20):g} MB")


async def _answer(send: Send, error: ApiError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["CSP", "Guard", "SECURITY_HEADERS", "TOKEN_COOKIE"]
