"""Security headers on every response (issue 20, I), added as a plain ASGI wrapper so that
the warm-tile fast path pays a list append, not a middleware stack.

Scripts come only from our own origin (the built bundles; no inline script anywhere);
inline *styles* stay allowed for the few style attributes the templates and OpenSeadragon
use. No page of ours may be framed by anyone, the same site included (clickjacking).

Pages and API answers carry patient data and are read on shared hospital workstations: unless
a route chose its own caching (tiles: immutable; label images: never stored), nothing is kept
in the browser's cache, so the next person at the desk cannot bring a patient's page back
after a log-out. Only the built scripts and styles under ``/static/`` may be cached.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
NOT_STORED = (b"cache-control", b"no-store")
CACHEABLE_PREFIX = "/static/"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        cacheable = scope["path"].startswith(CACHEABLE_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", ())
                chose = cacheable or any(name.lower() == b"cache-control" for name, _ in own)
                message["headers"] = [*own, *SECURITY_HEADERS, *(() if chose else (NOT_STORED,))]
            await send(message)

        await self.app(scope, receive, send_with_headers)
