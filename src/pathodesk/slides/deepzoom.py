"""Deep Zoom (DZI) geometry and tiles for any SlideReader (SPEC A8).

Geometry follows the DZI convention OpenSeadragon expects: level z is the slide reduced
by ``2**(max_level - z)``, rounded up; tile (col, row) covers ``tile_size`` pixels plus
``overlap`` on every inner side. Each tile is read from the coarsest pyramid level that
still has enough detail, so low zooms never touch level 0.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image

from pathodesk.errors import NotFoundError
from pathodesk.slides.base import NativeTileSource, Size, SlideInfo, SlideReader, best_level


@dataclass(frozen=True)
class TileRequest:
    """Where one Deep Zoom tile comes from, in every coordinate system involved."""

    level0_location: Size  # top-left in level-0 pixels
    slide_level: int  # pyramid level to read from
    read_size: Size  # pixels to read at slide_level
    output_size: Size  # pixels of the tile as served


class DeepZoomGeometry:
    """Pure DZI arithmetic: no pixels are read here."""

    def __init__(
        self,
        level_dimensions: tuple[Size, ...],
        level_downsamples: tuple[float, ...],
        tile_size: int = 254,
        overlap: int = 1,
    ) -> None:
        if tile_size < 1 or overlap < 0:
            raise ValueError("tile_size must be positive and overlap non-negative")
        self.slide_dimensions = level_dimensions
        self.slide_downsamples = level_downsamples
        self.tile_size = tile_size
        self.overlap = overlap
        width, height = level_dimensions[0]
        self.max_level = max(0, math.ceil(math.log2(max(width, height))))

    @property
    def level_count(self) -> int:
        return self.max_level + 1

    def downsample(self, level: int) -> int:
        return 2 ** (self.max_level - level)

    @cached_property
    def level_dimensions(self) -> tuple[Size, ...]:
        width, height = self.slide_dimensions[0]
        return tuple(
            (math.ceil(width / self.downsample(z)), math.ceil(height / self.downsample(z)))
            for z in range(self.level_count)
        )

    def tile_grid(self, level: int) -> Size:
        width, height = self.level_dimensions[level]
        return math.ceil(width / self.tile_size), math.ceil(height / self.tile_size)

    def tile_bounds(self, level: int, col: int, row: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the tile in pixels of DZI ``level``."""
        if not 0 <= level < self.level_count:
            raise NotFoundError("Deep Zoom level %(level)s does not exist", level=level)
        columns, rows = self.tile_grid(level)
        if not (0 <= col < columns and 0 <= row < rows):
            raise NotFoundError(
                "tile %(col)s_%(row)s is outside level %(level)s", col=col, row=row, level=level
            )
        width, height = self.level_dimensions[level]
        x0 = col * self.tile_size - (self.overlap if col else 0)
        y0 = row * self.tile_size - (self.overlap if row else 0)
        x1 = min(width, (col + 1) * self.tile_size + self.overlap)
        y1 = min(height, (row + 1) * self.tile_size + self.overlap)
        return x0, y0, x1, y1

    def best_slide_level(self, downsample: float) -> int:
        return best_level(self.slide_downsamples, downsample)

    def tile_request(self, level: int, col: int, row: int) -> TileRequest:
        x0, y0, x1, y1 = self.tile_bounds(level, col, row)
        downsample = self.downsample(level)
        slide_level = self.best_slide_level(downsample)
        slide_downsample = self.slide_downsamples[slide_level]
        # Pixels at slide_level that cover the tile; exact when the ratio is an integer.
        ratio = downsample / slide_downsample
        slide_w, slide_h = self.slide_dimensions[slide_level]
        read_x0 = x0 * ratio
        read_y0 = y0 * ratio
        read_w = min(math.ceil((x1 - x0) * ratio), slide_w - math.floor(read_x0))
        read_h = min(math.ceil((y1 - y0) * ratio), slide_h - math.floor(read_y0))
        return TileRequest(
            level0_location=(x0 * downsample, y0 * downsample),
            slide_level=slide_level,
            read_size=(max(1, read_w), max(1, read_h)),
            output_size=(x1 - x0, y1 - y0),
        )

    @cached_property
    def stored_levels(self) -> dict[int, int]:
        """Deep Zoom level -> the slide level holding exactly its pixels: the same downsample,
        its size rounded either way (libvips rounds down, OpenSlide's convention up)."""
        width, height = self.slide_dimensions[0]
        found: dict[int, int] = {}
        for level in range(self.level_count):
            step = self.downsample(level)
            sizes = ((width // step, -(-width // step)), (height // step, -(-height // step)))
            for index, (w, h) in enumerate(self.slide_dimensions):
                if w in sizes[0] and h in sizes[1]:
                    found[level] = index
                    break
        return found

    def native_tile_index(self, level: int, col: int, row: int, native: Size) -> tuple[int, int, int] | None:
        """The stored tile (slide level, col, row) identical to this DZI tile, if any.

        True when tiles have no overlap, the DZI tile size equals the stored tile size, the
        DZI level is a stored level, and the tile is whole in both (stored edge tiles are
        padded, DZI edge tiles are not).
        """
        if self.overlap or native != (self.tile_size, self.tile_size):
            return None
        slide_level = self.stored_levels.get(level)
        if slide_level is None:
            return None
        x0, y0, x1, y1 = self.tile_bounds(level, col, row)
        width, height = self.slide_dimensions[slide_level]
        if x1 - x0 != self.tile_size or y1 - y0 != self.tile_size or x1 > width or y1 > height:
            return None
        return slide_level, col, row

    def descriptor_xml(self, image_format: str = "jpeg") -> str:
        width, height = self.slide_dimensions[0]
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" '
            f'Format="{image_format}" Overlap="{self.overlap}" TileSize="{self.tile_size}">'
            f'<Size Width="{width}" Height="{height}"/></Image>'
        )


def viewer_grid(reader: SlideReader, tile_size: int, overlap: int) -> tuple[int, int]:
    """The Deep Zoom grid to serve ``reader`` on: its own stored grid (overlap 0) when its
    stored JPEG tiles are square, so most tiles go out as stored, undecoded; else the
    configured one."""
    native = reader.native_tile_size(0) if isinstance(reader, NativeTileSource) else None
    if native is not None and native[0] == native[1]:
        return native[0], 0
    return tile_size, overlap


class DeepZoomTiler:
    """Renders DZI tiles as JPEG bytes; holds geometry only, the reader is passed per call
    so readers can come from a pool."""

    def __init__(self, info: SlideInfo, tile_size: int = 254, overlap: int = 1, quality: int = 80) -> None:
        self.quality = quality
        self.geometry = DeepZoomGeometry(info.level_dimensions, info.level_downsamples, tile_size, overlap)

    def tile_pixels(self, reader: SlideReader, level: int, col: int, row: int) -> np.ndarray:
        request = self.geometry.tile_request(level, col, row)
        region = reader.read_region(request.level0_location, request.slide_level, request.read_size)
        if (region.shape[1], region.shape[0]) == request.output_size:
            return region
        out_w, out_h = request.output_size
        whole = round(request.read_size[0] / out_w)
        if whole >= 2 and all(
            0 <= out * whole - got < whole
            for out, got in zip(request.output_size, request.read_size, strict=True)
        ):
            # An exact 2**k step, possibly one pixel short at the slide's right/bottom edge:
            # repeat the edge pixels rather than stretch the tile or blend in white.
            pad_h, pad_w = out_h * whole - region.shape[0], out_w * whole - region.shape[1]
            if pad_h or pad_w:
                region = np.pad(region, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
            image = Image.fromarray(region).reduce(whole)  # box filter: fast and exact
        else:
            image = Image.fromarray(region).resize(
                request.output_size, Image.Resampling.BOX, reducing_gap=None
            )
        return np.asarray(image)

    def tile_jpeg(self, reader: SlideReader, level: int, col: int, row: int) -> bytes:
        if isinstance(reader, NativeTileSource):
            stored = self.stored_jpeg(reader, level, col, row)
            if stored is not None:
                return stored
        buffer = io.BytesIO()
        Image.fromarray(self.tile_pixels(reader, level, col, row)).save(buffer, "JPEG", quality=self.quality)
        return buffer.getvalue()

    def stored_jpeg(self, reader: NativeTileSource, level: int, col: int, row: int) -> bytes | None:
        """The tile as the slide stores it, when a stored tile is exactly this one."""
        slide_level = self.geometry.stored_levels.get(level)
        if slide_level is None:
            return None
        native = reader.native_tile_size(slide_level)
        if native is None:
            return None
        index = self.geometry.native_tile_index(level, col, row, native)
        if index is None:
            return None
        return reader.native_jpeg_tile(*index)
