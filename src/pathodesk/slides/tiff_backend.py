"""tifffile backend: our own pyramids, OME-TIFF, QPTIFF and plain (strip or tiled) TIFF.

Tiles are fetched with ``os.pread`` (no shared file position) and decoded by tifffile's
codecs, so one instance serves many threads at once. Stored JPEG tiles can be handed out
without decoding (``native_jpeg_tile``), which the Deep Zoom server uses when the grids align.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from pathodesk.errors import NotFoundError, UnsupportedSlideError
from pathodesk.slides.base import (
    Size,
    SlideInfo,
    clip_to,
    downsamples_from_dimensions,
    plausible_mpp,
    white_canvas,
)
from pathodesk.slides.stored_jpeg import read_tile, servable


class DecodedTiles:
    """Recently decoded tiles of every open TIFF reader, in one byte budget: neighbouring
    reads (analysis strips, Deep Zoom tiles straddling stored ones) share a decode, and
    memory stays bounded however many readers the pool holds."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._tiles: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, int]) -> np.ndarray | None:
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    def put(self, key: tuple[int, int, int], tile: np.ndarray) -> None:
        with self._lock:
            if key in self._tiles:
                return
            self._tiles[key] = tile
            self._bytes += tile.nbytes
            while self._bytes > self.budget_bytes and self._tiles:
                self._bytes -= self._tiles.popitem(last=False)[1].nbytes


DECODED = DecodedTiles(64 * 1024 * 1024)
_reader_ids = itertools.count()  # unlike id(), never reused by a later reader

PYRAMID_SOFTWARE = "PathoDesk pyramid"
# Fluorescence channels (e.g. DAPI, Opal 570, Opal 690) shown as blue, green, red.
CHANNEL_COLOURS = np.array([[0, 0, 255], [0, 255, 0], [255, 0, 0], [255, 255, 0]], dtype=np.float32)
MAX_STRIP_PIXELS = 400_000_000
MAX_ASSOCIATED_PIXELS = 50_000_000  # a photo of the whole glass is a few million


@dataclass
class _Level:
    pages: list[tifffile.TiffPage]  # one page (RGB/grey) or one per channel
    width: int
    height: int


def _level_pages(tif: tifffile.TiffFile) -> list[_Level]:
    """Pick the pages that form the image pyramid, whatever the TIFF flavour."""
    series = tif.series[0]
    levels: list[_Level] = []
    for level_series in series.levels:
        pages = [p for p in level_series.pages if isinstance(p, tifffile.TiffPage)]
        if not pages:
            continue
        key = pages[0]
        levels.append(_Level(pages=pages, width=key.imagewidth, height=key.imagelength))
    if len(levels) == 1 and not tif.is_ome:
        # Generic pyramids store reduced levels as further top-level pages.
        first = tif.pages[0]
        assert isinstance(first, tifffile.TiffPage)
        for page in list(tif.pages)[1:]:
            if not isinstance(page, tifffile.TiffPage) or not page.is_tiled:
                continue
            previous = levels[-1]
            if (
                page.imagewidth < previous.width
                and page.imagelength < previous.height
                and page.photometric == first.photometric
                and page.samplesperpixel == first.samplesperpixel
            ):
                levels.append(_Level([page], page.imagewidth, page.imagelength))
    return levels


def _positive(value: object) -> bool:
    return isinstance(value, int) and value >= 1


def _measurable(level: _Level) -> bool:
    """A level with a size and tiles of a size (a damaged directory can say 0, or a list)."""
    return all(
        _positive(page.imagewidth)
        and _positive(page.imagelength)
        and (not page.is_tiled or (_positive(page.tilewidth) and _positive(page.tilelength)))
        for page in level.pages
    )


def _resolution_mpp(page: tifffile.TiffPage, axis: str = "X") -> float | None:
    tags = page.tags
    if f"{axis}Resolution" not in tags or "ResolutionUnit" not in tags:
        return None
    numerator, denominator = tags[f"{axis}Resolution"].value
    unit = tags["ResolutionUnit"].value
    if not numerator or not denominator or unit not in (2, 3):
        return None
    pixels_per_unit = numerator / denominator
    microns_per_unit = 25_400.0 if unit == 2 else 10_000.0
    return plausible_mpp(microns_per_unit / pixels_per_unit)


class TiffSlideReader:
    """Reads pyramid levels tile by tile; plain strip TIFFs are held decoded in memory."""

    thread_safe = True

    def __init__(self, path: Path) -> None:
        self._fd = -1
        try:
            # never follow an OME-XML reference to another file (<UUID FileName="/etc/...">):
            # a multi-file OME series falls back to this file's own pages (issue 20, D)
            self._tif = tifffile.TiffFile(path, _multifile=False)
            try:
                self._open(path)
            except BaseException:
                self.close()
                raise
        except UnsupportedSlideError:
            raise
        except Exception as exc:  # a damaged directory fails in tifffile in many ways
            raise UnsupportedSlideError(
                "%(name)s is not a readable TIFF: %(exc)s", name=path.name, exc=exc
            ) from exc

    def _open(self, path: Path) -> None:
        self._levels = _level_pages(self._tif)
        if not self._levels or not all(map(_measurable, self._levels)):
            raise UnsupportedSlideError("%(name)s holds no image", name=path.name)
        # Tiles are read with pread; whatever tifffile reads itself (strips, label and macro
        # images) seeks and reads its one shared file handle: serialised, or concurrent reads
        # of one open slide get each other's bytes.
        self._tif.filehandle.set_lock(True)
        self._fd = os.open(path, os.O_RDONLY)
        self._strip_cache: dict[int, np.ndarray] = {}
        self._reader_id = next(_reader_ids)
        first = self._levels[0].pages[0]
        if first.dtype is None or first.dtype.kind not in "ui":
            raise UnsupportedSlideError(
                "%(name)s: sample type %(dtype)s is not an image", name=path.name, dtype=first.dtype
            )
        dimensions = tuple((lv.width, lv.height) for lv in self._levels)
        self._colours = self._channel_colours()
        # found once, here: tifffile parses a page it has not cached from the shared file
        # handle outside its lock, so looking again while another thread reads tears both
        self._associated = self._associated_pages()
        self.info = SlideInfo(
            format=self._format_name(),
            vendor=self._vendor(),
            level_dimensions=dimensions,
            level_downsamples=downsamples_from_dimensions(dimensions),
            mpp_x=self._mpp("X"),
            mpp_y=self._mpp("Y"),
            objective_power=self._objective_power(),
            associated_images=tuple(sorted(self._associated)),
            properties=self._properties(),
        )
        self._check_readable()

    # -- metadata ---------------------------------------------------------------------
    def _pyramid_description(self) -> dict[str, object] | None:
        page = self._tif.pages[0]
        assert isinstance(page, tifffile.TiffPage)
        if page.software != PYRAMID_SOFTWARE:
            return None
        try:
            parsed = json.loads(page.description)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def _format_name(self) -> str:
        if self._pyramid_description() is not None:
            return "pathodesk-pyramid"
        if self._tif.is_ome:
            return "ome-tiff"
        if self._tif.is_qpi:
            return "qptiff"
        return "tiff"

    def _vendor(self) -> str | None:
        if self._tif.is_qpi:
            return "PerkinElmer"
        if self._pyramid_description() is not None:
            return "PathoDesk"
        return None

    def _mpp(self, axis: str) -> float | None:
        """Microns per pixel along ``axis`` ("X" or "Y"): pixels need not be square."""
        described = self._pyramid_description()
        if described and isinstance(described.get("mpp"), int | float):
            return float(described["mpp"])  # type: ignore[arg-type]
        if self._tif.is_ome and self._tif.ome_metadata:
            match = re.search(rf'PhysicalSize{axis}="([0-9.eE+-]+)"', self._tif.ome_metadata)
            unit = re.search(rf'PhysicalSize{axis}Unit="([^"]+)"', self._tif.ome_metadata)
            if match and (unit is None or unit.group(1) in ("µm", "um", "\u00b5m")):
                return float(match.group(1))
        return _resolution_mpp(self._levels[0].pages[0], axis)

    def _objective_power(self) -> float | None:
        """Ours in the pyramid description, OME's NominalMagnification, QPTIFF's <Objective>."""
        described = self._pyramid_description()
        if described and isinstance(described.get("objective_power"), int | float):
            return float(described["objective_power"])  # type: ignore[arg-type]
        if self._tif.is_ome and self._tif.ome_metadata:
            match = re.search(r'NominalMagnification="([0-9.]+)"', self._tif.ome_metadata)
            return float(match.group(1)) if match else None
        if self._tif.is_qpi:
            description = self._levels[0].pages[0].description or ""
            match = re.search(r"<Objective>\s*([0-9.]+)\s*x", description, re.I)
            return float(match.group(1)) if match else None
        return None

    def _channel_colours(self) -> np.ndarray:
        """The colour of each fluorescence channel: QPTIFF names it per page (<Color>r,g,b);
        otherwise blue, green, red, yellow in turn."""
        colours = []
        for index, page in enumerate(self._levels[0].pages):
            match = re.search(r"<Color>\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*</Color>", page.description or "")
            fallback = CHANNEL_COLOURS[index % len(CHANNEL_COLOURS)]
            colours.append([min(255, int(v)) for v in match.groups()] if match else fallback)
        return np.asarray(colours, dtype=np.float32)

    def _properties(self) -> dict[str, str]:
        first = self._levels[0].pages[0]
        properties = {
            "tiff.compression": tifffile.COMPRESSION(first.compression).name,
            "tiff.photometric": tifffile.PHOTOMETRIC(first.photometric).name,
            "tiff.tiled": str(first.is_tiled),
        }
        if first.is_tiled:
            properties["tiff.tile_size"] = f"{first.tilewidth}x{first.tilelength}"
        described = self._pyramid_description() or {}
        properties |= {f"pathodesk.{k}": str(v) for k, v in described.items() if isinstance(v, str)}
        return properties

    def _associated_pages(self) -> dict[str, tifffile.TiffPage]:
        found: dict[str, tifffile.TiffPage] = {}
        level_pages = {id(p) for lv in self._levels for p in lv.pages}
        for page in self._tif.pages:
            if not isinstance(page, tifffile.TiffPage) or id(page) in level_pages:
                continue
            if not (_positive(page.imagewidth) and _positive(page.imagelength)):
                continue
            if page.imagewidth * page.imagelength > MAX_ASSOCIATED_PIXELS:
                continue  # no label or photo of the glass is this large: a damaged directory
            text = (page.description or "").lower()
            for name in ("label", "macro", "thumbnail", "overview"):
                if name in text and name not in found and page.samplesperpixel >= 3:
                    found[name] = page
        return found

    def _check_readable(self) -> None:
        """Decode one tile of the smallest and largest level: catches truncated files."""
        for level in (len(self._levels) - 1, 0):
            self.read_region((0, 0), level, (1, 1))
        width, height = self.info.level_dimensions[0]
        self.read_region((width - 1, height - 1), 0, (1, 1))

    # -- pixels -----------------------------------------------------------------------
    def native_tile_size(self, level: int) -> Size | None:
        pages = self._levels[level].pages
        page = pages[0]
        if len(pages) != 1 or not servable(page):
            return None
        return page.tilewidth, page.tilelength

    def native_jpeg_tile(self, level: int, col: int, row: int) -> bytes | None:
        """One stored tile as a standalone JPEG, its pixels undecoded (``stored_jpeg``)."""
        if self.native_tile_size(level) is None:
            return None
        return read_tile(self._fd, self._levels[level].pages[0], col, row)

    def _decode_tile(self, page: tifffile.TiffPage, index: int) -> np.ndarray:
        key = (self._reader_id, id(page), index)
        tile = DECODED.get(key)
        if tile is None:
            tile = self._decode_uncached(page, index)
            tile.setflags(write=False)
            DECODED.put(key, tile)
        return tile

    def _decode_uncached(self, page: tifffile.TiffPage, index: int) -> np.ndarray:
        if index >= min(len(page.dataoffsets), len(page.databytecounts)):  # a damaged directory
            raise UnsupportedSlideError("tile %(index)s is missing from the file", index=index)
        data = os.pread(self._fd, page.databytecounts[index], page.dataoffsets[index])
        try:
            tile, _, _ = page.decode(data, index, jpegtables=page.jpegtables)
        except Exception as exc:  # any codec error means a damaged file
            raise UnsupportedSlideError(
                "cannot decode tile %(index)s: %(exc)s", index=index, exc=exc
            ) from exc
        if tile is None:
            raise UnsupportedSlideError("tile %(index)s is missing from the file", index=index)
        return tile.reshape(tile.shape[-3:])

    def _read_page(
        self, page: tifffile.TiffPage, x: int, y: int, w: int, h: int, into: np.ndarray | None = None
    ) -> np.ndarray:
        """Samples of one page in the rectangle, shape (h, w, samples); caller clips.
        Tiles are copied straight into ``into`` when given (a view of the caller's canvas)."""
        if not page.is_tiled:
            key = id(page)
            if key not in self._strip_cache:
                if page.imagewidth * page.imagelength > MAX_STRIP_PIXELS:
                    raise UnsupportedSlideError("untiled TIFF too large to open")
                try:
                    self._strip_cache[key] = page.asarray().reshape(page.imagelength, page.imagewidth, -1)
                except Exception as exc:
                    raise UnsupportedSlideError("cannot decode TIFF strips: %(exc)s", exc=exc) from exc
            return self._strip_cache[key][y : y + h, x : x + w]
        tile_w, tile_h = page.tilewidth, page.tilelength
        columns = math.ceil(page.imagewidth / tile_w)
        out = np.empty((h, w, page.samplesperpixel), dtype=page.dtype) if into is None else into
        for row in range(y // tile_h, (y + h - 1) // tile_h + 1):
            for col in range(x // tile_w, (x + w - 1) // tile_w + 1):
                tile = self._decode_tile(page, row * columns + col)
                tx0, ty0 = col * tile_w, row * tile_h
                sx0, sy0 = max(x, tx0), max(y, ty0)
                sx1, sy1 = min(x + w, tx0 + tile_w), min(y + h, ty0 + tile_h)
                out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = tile[sy0 - ty0 : sy1 - ty0, sx0 - tx0 : sx1 - tx0]
        return out

    def _to_rgb(self, planes: list[np.ndarray]) -> np.ndarray:
        if len(planes) == 1 and planes[0].shape[2] >= 3:
            rgb = planes[0][..., :3]
            return rgb if rgb.dtype == np.uint8 else _scale_to_uint8(rgb)
        if len(planes) == 1:
            grey = _scale_to_uint8(planes[0][..., 0])
            return np.repeat(grey[..., None], 3, axis=2)
        # One page per fluorescence channel: additive false colour on black.
        stacked = np.stack([_scale_to_uint8(p[..., 0]) for p in planes], axis=-1)
        rgb = stacked.astype(np.float32) @ self._colours[: stacked.shape[-1]] / 255.0
        return np.clip(rgb, 0, 255).astype(np.uint8)

    def read_region(self, location: Size, level: int, size: Size) -> np.ndarray:
        lv = self._levels[level]
        downsample = self.info.level_downsamples[level]
        x = math.floor(location[0] / downsample)
        y = math.floor(location[1] / downsample)
        width, height = size
        x0, y0, x1, y1 = clip_to(x, y, size, (lv.width, lv.height))
        inside = (x0, y0, x1, y1) == (x, y, x + width, y + height)
        out = np.empty((height, width, 3), np.uint8) if inside else white_canvas(size)
        if x1 <= x0 or y1 <= y0:
            return out
        target = out[y0 - y : y1 - y, x0 - x : x1 - x]
        first = lv.pages[0]
        if len(lv.pages) == 1 and first.is_tiled and first.samplesperpixel == 3 and first.dtype == np.uint8:
            # RGB tiles go straight onto the canvas: one copy, not two (what analysis reads)
            self._read_page(first, x0, y0, x1 - x0, y1 - y0, into=target)
            return out
        target[:] = self._to_rgb([self._read_page(p, x0, y0, x1 - x0, y1 - y0) for p in lv.pages])
        return out

    def associated_image(self, name: str) -> Image.Image:
        page = self._associated.get(name)
        if page is None:
            raise NotFoundError("no associated image %(name)r", name=name)
        try:
            array = page.asarray()
            return Image.fromarray(self._to_rgb([array.reshape(array.shape[0], array.shape[1], -1)]))
        except Exception as exc:  # a damaged page: any codec error, or pixels of no image's shape
            raise UnsupportedSlideError(
                "cannot decode the %(name)s image: %(exc)s", name=name, exc=exc
            ) from exc

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._tif.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            self.close()


def _scale_to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    info = np.iinfo(array.dtype)
    return (array.astype(np.float32) * (255.0 / info.max)).astype(np.uint8)
