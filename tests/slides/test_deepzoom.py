"""Deep Zoom (SPEC A8): exact tiles at every level and edge, best-level reads, passthrough."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathodesk.errors import NotFoundError
from pathodesk.slides import open_slide
from pathodesk.slides.base import SlideReader
from pathodesk.slides.deepzoom import DeepZoomGeometry, DeepZoomTiler

JPEG_TOLERANCE = 4.0  # mean absolute difference in grey levels after JPEG at quality 90


def decode(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(np.int16)


def stitch(tiler: DeepZoomTiler, reader: SlideReader, level: int) -> np.ndarray:
    """Put a whole DZI level back together, dropping the overlaps."""
    geometry = tiler.geometry
    width, height = geometry.level_dimensions[level]
    out = np.zeros((height, width, 3), dtype=np.int16)
    columns, rows = geometry.tile_grid(level)
    for row in range(rows):
        for col in range(columns):
            x0, y0, x1, y1 = geometry.tile_bounds(level, col, row)
            tile = decode(tiler.tile_jpeg(reader, level, col, row))
            assert tile.shape == (y1 - y0, x1 - x0, 3), (level, col, row)
            left = geometry.overlap if col else 0
            top = geometry.overlap if row else 0
            core = tile[top : top + geometry.tile_size, left : left + geometry.tile_size]
            out[
                row * geometry.tile_size : row * geometry.tile_size + core.shape[0],
                col * geometry.tile_size : col * geometry.tile_size + core.shape[1],
            ] = core
    return out


def test_geometry_matches_the_dzi_convention() -> None:
    geometry = DeepZoomGeometry(((2220, 2967),), (1.0,), tile_size=254, overlap=1)
    assert geometry.level_count == 13  # ceil(log2(2967)) + 1
    assert geometry.level_dimensions[-1] == (2220, 2967)
    assert geometry.level_dimensions[-2] == (1110, 1484)
    assert geometry.level_dimensions[0] == (1, 1)
    assert geometry.tile_grid(12) == (9, 12)
    assert geometry.tile_bounds(12, 0, 0) == (0, 0, 255, 255)
    assert geometry.tile_bounds(12, 1, 1) == (253, 253, 509, 509)
    assert geometry.tile_bounds(12, 8, 11) == (2031, 2793, 2220, 2967)
    with pytest.raises(NotFoundError):
        geometry.tile_bounds(12, 9, 0)
    with pytest.raises(NotFoundError):
        geometry.tile_bounds(13, 0, 0)
    assert '<Size Width="2220" Height="2967"/>' in geometry.descriptor_xml()


@pytest.mark.parametrize(("tile_size", "overlap"), [(254, 1), (256, 0)])
def test_stitched_tiles_equal_read_region_on_three_levels(
    samples: dict[str, Path], tile_size: int, overlap: int
) -> None:
    reader = open_slide(samples["pyramid"])
    tiler = DeepZoomTiler(reader.info, tile_size, overlap, quality=90)
    top = tiler.geometry.max_level
    for slide_level in (1, 2, 3):  # three stored pyramid levels, edges included
        dzi_level = top - slide_level
        expected = reader.read_region((0, 0), slide_level, reader.info.level_dimensions[slide_level]).astype(
            np.int16
        )
        stitched = stitch(tiler, reader, dzi_level)
        assert stitched.shape == expected.shape
        assert np.abs(stitched - expected).mean() < JPEG_TOLERANCE
        # the right and bottom edge strips too, not just the average
        assert np.abs(stitched[:, -3:] - expected[:, -3:]).mean() < JPEG_TOLERANCE * 2
        assert np.abs(stitched[-3:, :] - expected[-3:, :]).mean() < JPEG_TOLERANCE * 2


def test_levels_between_stored_ones_are_reduced_exactly(samples: dict[str, Path]) -> None:
    """Single-level SVS: DZI levels below level 0 are box reductions of it."""
    reader = open_slide(samples["svs"])
    tiler = DeepZoomTiler(reader.info, 254, 1, quality=95)
    level0 = reader.read_region((0, 0), 0, reader.info.dimensions).astype(np.float32)
    dzi_level = tiler.geometry.max_level - 2
    stitched = stitch(tiler, reader, dzi_level)
    height, width = stitched.shape[:2]
    padded = np.full((height * 4, width * 4, 3), 255, np.float32)
    padded[: level0.shape[0], : level0.shape[1]] = level0
    reduced = padded.reshape(height, 4, width, 4, 3).mean(axis=(1, 3))
    inner = np.abs(stitched[:-1, :-1] - reduced[:-1, :-1]).mean()
    assert inner < JPEG_TOLERANCE


class CountingReader:
    """Wraps a reader and records which levels were read."""

    def __init__(self, reader: SlideReader) -> None:
        self.reader = reader
        self.info = reader.info
        self.thread_safe = True
        self.levels: list[int] = []

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        self.levels.append(level)
        return self.reader.read_region(location, level, size)

    def associated_image(self, name: str) -> Image.Image:
        return self.reader.associated_image(name)

    def close(self) -> None:
        self.reader.close()


def test_low_zoom_tiles_never_read_level_zero(samples: dict[str, Path]) -> None:
    reader = CountingReader(open_slide(samples["pyramid"]))
    tiler = DeepZoomTiler(reader.info, 254, 1)
    top = tiler.geometry.max_level
    for level in range(top - 5, top + 1):
        reader.levels.clear()
        tiler.tile_jpeg(reader, level, 0, 0)
        expected = min(top - level, reader.info.level_count - 1)
        assert reader.levels == [expected], f"DZI level {level} read slide level {reader.levels}"


def test_aligned_tiles_are_served_as_stored_bytes(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["pyramid"])
    tiler = DeepZoomTiler(reader.info, 256, 0)
    top = tiler.geometry.max_level
    stored = reader.native_jpeg_tile(1, 2, 3)  # type: ignore[attr-defined]
    assert tiler.tile_jpeg(reader, top - 1, 2, 3) == stored
    # an edge tile is cut to size, so it is re-encoded
    columns, _rows = tiler.geometry.tile_grid(top)
    edge = decode(tiler.tile_jpeg(reader, top, columns - 1, 0))
    assert edge.shape[1] == reader.info.dimensions[0] - (columns - 1) * 256


def test_tile_counts_cover_the_level(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["pyramid"])
    geometry = DeepZoomTiler(reader.info).geometry
    for level in range(geometry.level_count):
        width, height = geometry.level_dimensions[level]
        assert geometry.tile_grid(level) == (math.ceil(width / 254), math.ceil(height / 254))


def test_overview_levels_make_low_zooms_cheap_and_right(samples: dict[str, Path]) -> None:
    """Single-level SVS: low-zoom tiles come from computed 4x/16x levels, not level 0,
    and show the same picture as reducing level 0."""
    from pathodesk.slides.overview import with_overview_levels

    plain = open_slide(samples["svs"])
    reader = CountingReader(with_overview_levels(plain))
    assert reader.info.level_downsamples == (1.0, 2.0, 4.0, 8.0)
    assert reader.info.level_dimensions[1:] == ((1110, 1484), (555, 742), (278, 371))
    tiler = DeepZoomTiler(reader.info, 254, 1, quality=95)
    top = tiler.geometry.max_level
    reader.levels.clear()
    overview = stitch(tiler, reader, top - 4)  # 16x: one tile, from the 8x overview
    assert set(reader.levels) == {3}
    level0 = plain.read_region((0, 0), 0, plain.info.dimensions).astype(np.float32)
    height, width = overview.shape[:2]
    exact = (
        level0[: (height - 1) * 16, : (width - 1) * 16]
        .reshape(height - 1, 16, width - 1, 16, 3)
        .mean(axis=(1, 3))
    )
    assert np.abs(overview[:-1, :-1] - exact).mean() < JPEG_TOLERANCE
    reader.levels.clear()
    stitch(tiler, reader, top - 1)  # 2x: from the 2x overview level, not level 0
    assert set(reader.levels) == {1}
