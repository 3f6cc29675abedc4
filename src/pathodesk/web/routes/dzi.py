"""Deep Zoom descriptor and tiles (API.md: /dzi/{id}.dzi, /dzi/{id}_files/{z}/{c}_{r}.jpeg).

The hot path of the viewer: a warm tile is one dictionary lookup after the session check;
a cold one is rendered in a worker thread from the best pyramid level. Tiles never change
for a given file, so the ETag carries the slide's checksum and the response is immutable.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request, Response

from pathodesk.slides.base import NativeTileSource
from pathodesk.slides.deepzoom import DeepZoomTiler
from pathodesk.slides.overview import OverviewLevels
from pathodesk.web.deps import CurrentUser, RecordId, StateDep
from pathodesk.web.route_helpers import slide_handle
from pathodesk.web.state import IMMUTABLE, AppState, SlideHandle

router = APIRouter(tags=["deepzoom"])


def tiler_for(state: AppState, handle: SlideHandle) -> DeepZoomTiler:
    """One tiler per file. Slides whose stored JPEG tiles are square and self-contained are
    tiled on their own grid (overlap 0) so most tiles are served as stored, undecoded."""
    tiler = state.tilers.get(handle.sha256)
    if tiler is None:
        settings = state.settings
        with state.readers.reader(handle.path) as reader:
            native = reader.native_tile_size(0) if isinstance(reader, NativeTileSource) else None
            tile_size, overlap = settings.dzi_tile_size, settings.dzi_overlap
            if native is not None and native[0] == native[1]:
                tile_size, overlap = native[0], 0
            tiler = DeepZoomTiler(reader.info, tile_size, overlap, settings.dzi_jpeg_quality)
        state.tilers[handle.sha256] = tiler
    return tiler


def render_tile(
    state: AppState, handle: SlideHandle, tiler: DeepZoomTiler, level: int, col: int, row: int
) -> bytes:
    with state.readers.reader(handle.path) as reader:
        return tiler.tile_jpeg(reader, level, col, row)


def tile_key(handle: SlideHandle, tiler: DeepZoomTiler, level: int, col: int, row: int) -> tuple[object, ...]:
    """Cache key: the slide checksum first, so a changed file can never hit a stale tile."""
    geometry = tiler.geometry
    return (handle.sha256, geometry.tile_size, geometry.overlap, tiler.quality, level, col, row)


def tile_etag(handle: SlideHandle, tiler: DeepZoomTiler, level: int, col: int, row: int) -> str:
    geometry = tiler.geometry
    return (
        f'"{handle.sha256[:24]}-{geometry.tile_size}-{geometry.overlap}-{tiler.quality}-{level}-{col}-{row}"'
    )


@router.get("/dzi/{slide_id}.dzi", response_class=Response)
def descriptor(slide_id: RecordId, user: CurrentUser, state: StateDep) -> Response:
    """The viewer asks for this first: the moment to prepare the slide's overview levels,
    so no tile request has to wait for them."""
    handle = slide_handle(state, user, slide_id)
    xml = tiler_for(state, handle).geometry.descriptor_xml()
    with state.readers.reader(handle.path) as reader:
        if isinstance(reader, OverviewLevels):
            reader.build()
    return Response(xml, media_type="application/xml", headers={"Cache-Control": "private, no-cache"})


@router.get("/dzi/{slide_id}_files/{level}/{col}_{row}.jpeg", response_class=Response)
async def tile(
    slide_id: RecordId,
    level: int,
    col: int,
    row: int,
    request: Request,
    user: CurrentUser,
    state: StateDep,
) -> Response:
    handle = slide_handle(state, user, slide_id)
    tiler = tiler_for(state, handle)
    geometry = tiler.geometry
    key = tile_key(handle, tiler, level, col, row)
    etag = tile_etag(handle, tiler, level, col, row)
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    body = state.tiles.get(key)
    if body is None:
        geometry.tile_bounds(level, col, row)  # 404 before any work for a tile that cannot exist
        body = await anyio.to_thread.run_sync(render_tile, state, handle, tiler, level, col, row)
        state.tiles.put(key, body)
    return Response(body, media_type="image/jpeg", headers=headers)
