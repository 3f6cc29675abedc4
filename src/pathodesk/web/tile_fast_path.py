"""A lean ASGI path for Deep Zoom tiles.

A viewer asks for dozens of tiles per second per user; routing and dependency injection
cost more than a cached tile, and as much as a stored one sent undecoded (issue 22). This
middleware answers a GET for a tile when the caller's session, the slide's handle and its
tiler are already cached, applying the same visibility rule as the full route: from the
LRU, else rendered as the route renders it. Anything else (an unknown session, a slide at
low resolution, a tile that does not exist or cannot be read) falls through to the FastAPI
route, which stays the single definition of behaviour.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from pathodesk.slides.base import NativeTileSource
from pathodesk.slides.deepzoom import DeepZoomTiler
from pathodesk.web.access import may_see
from pathodesk.web.deps import SESSION_COOKIE
from pathodesk.web.routes.dzi import render_tile, tile_etag, tile_key
from pathodesk.web.security import token_digest
from pathodesk.web.state import IMMUTABLE, AppState, SlideHandle

TILE_PATH = re.compile(r"^/dzi/(\d+)_files/(\d+)/(\d+)_(\d+)\.jpeg$")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _session_token(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw.decode("latin-1"))
    except Exception:  # malformed cookies go the long way and get a proper answer
        return None
    morsel = cookie.get(SESSION_COOKIE)
    return morsel.value if morsel else None


class TileFastPath:
    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = TILE_PATH.match(scope["path"])
            if match and await self._serve(scope, send, *(int(g) for g in match.groups())):
                return
        await self.app(scope, receive, send)

    def _stored(
        self, handle: SlideHandle, tiler: DeepZoomTiler, level: int, col: int, row: int
    ) -> bytes | None:
        """A stored tile read right here: one small pread from an open file costs less than
        handing the request to a thread and back."""
        reader = self.state.readers.open_shared(handle.path)
        if not isinstance(reader, NativeTileSource):
            return None
        return tiler.stored_jpeg(reader, level, col, row)

    async def _serve(self, scope: Scope, send: Send, slide_id: int, level: int, col: int, row: int) -> bool:
        state = self.state
        token = _session_token(scope)
        principal = state.principals.get(token_digest(token)) if token else None
        handle = state.slide_handles.get(slide_id)
        if principal is None or handle is None or not may_see(principal, handle.viewer_ids):
            return False
        if handle.store_downsample > 1:
            return False  # generated tiles (E8): their key names the generators; the route knows them
        tiler = state.tilers.get(handle.sha256)
        if tiler is None:
            return False
        etag = tile_etag(handle, tiler, level, col, row)
        headers: list[Any] = [(b"etag", etag.encode()), (b"cache-control", IMMUTABLE.encode())]
        if _header(scope, b"if-none-match") == etag.encode():
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return True
        key = tile_key(handle, tiler, level, col, row)
        body = state.tiles.get(key)
        if body is None:
            try:
                tiler.geometry.tile_bounds(level, col, row)
                body = self._stored(handle, tiler, level, col, row)
                if body is None:
                    body = await anyio.to_thread.run_sync(render_tile, state, handle, tiler, level, col, row)
            except Exception:  # a tile that cannot exist or cannot be read: the route says why
                return False
            state.tiles.put(key, body)
        headers += [(b"content-type", b"image/jpeg"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True
