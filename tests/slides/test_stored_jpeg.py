"""Stored JPEG tiles sent as they are (issue 22): Aperio's RGB-coded tiles and libvips'
pyramids keep their JPEG tables apart from the tiles; completed, each tile decodes to
exactly the pixels the slide holds there, as a browser's decoder reads it."""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import openslide
import tifffile
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from pathodesk.slides import open_slide
from pathodesk.slides.deepzoom import DeepZoomTiler
from pathodesk.slides.stored_jpeg import (
    MAX_TILE_BYTES,
    RGB_PHOTOMETRIC,
    YCBCR_PHOTOMETRIC,
    complete_jpeg,
    open_stored_jpeg_tiles,
)
from tests.support.hostile import damaged_copy


def decoded(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def raw_tile(path: Path, page: tifffile.TiffPage, index: int) -> bytes:
    with path.open("rb") as raw:
        raw.seek(page.dataoffsets[index])
        return raw.read(page.databytecounts[index])


def entropy_coded(tile: bytes) -> bytes:
    """The compressed pixels of a stored tile: its scan, from the start-of-scan marker."""
    return tile[tile.index(b"\xff\xda") :]


def test_aperio_tiles_are_sent_as_stored_and_show_the_scanned_pixels(samples: dict[str, Path]) -> None:
    reader = open_slide(samples["svs"])
    assert reader.native_tile_size(0) == (240, 240)  # type: ignore[attr-defined]
    tiler = DeepZoomTiler(reader.info, 240, 0)
    top = tiler.geometry.max_level
    scan = openslide.OpenSlide(str(samples["svs"]))
    page = tifffile.TiffFile(samples["svs"]).pages[0]
    assert page.photometric == RGB_PHOTOMETRIC and page.jpegtables is not None
    columns = -(-2220 // 240)
    for col, row in ((0, 0), (3, 4), (8, 11)):
        served = tiler.tile_jpeg(reader, top, col, row)
        assert entropy_coded(raw_tile(samples["svs"], page, row * columns + col)) in served  # not re-encoded
        expected = np.asarray(scan.read_region((col * 240, row * 240), 0, (240, 240)).convert("RGB"))
        assert np.array_equal(decoded(served), expected), (col, row)
    # the right-hand column is cut to the slide (2220 = 9 × 240 + 60): decoded and encoded again
    edge = decoded(tiler.tile_jpeg(reader, top, 9, 0))
    expected = np.asarray(scan.read_region((9 * 240, 0), 0, (60, 240)).convert("RGB")).astype(int)
    assert edge.shape == (240, 60, 3) and np.abs(edge.astype(int) - expected).mean() < 3


def test_a_libvips_pyramid_is_sent_as_stored_at_every_level(samples: dict[str, Path], tmp_path: Path) -> None:
    """``vips`` (Debian's libvips-tools, installed by make setup) writes pyramids as most
    converters do: 256-px tiles sharing JPEG tables, every 2× level. It rounds level sizes
    down (2967 / 8 = 370.9 -> 370): those levels are still the Deep Zoom levels of the same
    downsample, so their whole tiles go out as stored too."""
    pyramid = tmp_path / "vips.tif"
    options = ("--tile", "--pyramid", "--compression", "jpeg", "--Q", "80")
    options += ("--tile-width", "256", "--tile-height", "256")
    subprocess.run(["vips", "tiffsave", str(samples["svs"]), str(pyramid), *options], check=True)
    tif = tifffile.TiffFile(pyramid)
    assert tif.pages[0].jpegtables is not None and tif.pages[0].photometric == YCBCR_PHOTOMETRIC
    assert tif.pages[3].shape[:2] == (370, 277)  # rounded down
    reader = open_slide(pyramid)
    tiler = DeepZoomTiler(reader.info, 256, 0)
    top = tiler.geometry.max_level
    for step, level_index in ((1, 0), (2, 1), (4, 2), (8, 3)):
        page = tif.pages[level_index]
        served = tiler.tile_jpeg(reader, top - level_index, 0, 0)
        assert entropy_coded(raw_tile(pyramid, page, 0)) in served, step
        difference = np.abs(decoded(served).astype(int) - page.asarray()[:256, :256])
        assert difference.mean() < 0.5 and difference.max() <= 2, step  # one decoder's rounding


def test_only_jpeg_streams_a_browser_reads_alike_are_completed() -> None:
    tables = b"\xff\xd8" + b"\xff\xdb\x00\x04xx" + b"\xff\xd9"
    tile = b"\xff\xd8\xff\xda\x00\x02data\xff\xd9"
    rgb = complete_jpeg(tile, tables, RGB_PHOTOMETRIC)
    assert rgb is not None and rgb.startswith(b"\xff\xd8\xff\xee\x00\x0eAdobe")
    assert rgb.endswith(b"\xff\xdb\x00\x04xx\xff\xda\x00\x02data\xff\xd9")
    assert complete_jpeg(tile, None, YCBCR_PHOTOMETRIC) == tile  # self-contained YCbCr: as is
    assert complete_jpeg(b"not a jpeg", tables, YCBCR_PHOTOMETRIC) is None
    assert complete_jpeg(tile[:-5], tables, YCBCR_PHOTOMETRIC) is None  # truncated: decoded instead
    assert complete_jpeg(tile, b"broken tables", YCBCR_PHOTOMETRIC) is None
    jfif = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + tile[2:]
    assert complete_jpeg(jfif, None, RGB_PHOTOMETRIC) is None  # JFIF means YCbCr to a decoder


# the sample's level-0 directory, tile offsets, byte counts and JPEG tables lie at
# 1,275,950-1,278,105; anywhere else is mostly tile data
WHERE = st.one_of(st.integers(1_275_950, 1_278_105), st.integers(0, 1_938_954))


@settings(max_examples=60, deadline=None)
@given(edits=st.lists(st.tuples(WHERE, st.integers(0, 255)), min_size=1, max_size=8))
@example(edits=[(1276096, 0)])  # fewer tile byte counts than offsets
def test_a_damaged_slide_file_gives_stored_tiles_or_none_never_a_crash(
    samples: dict[str, Path], edits: list[tuple[int, int]]
) -> None:
    """Bytes changed anywhere in an SVS (its directory, tables or tile data): the stored-tile
    path gives a complete JPEG or None (the reader then decodes and says what is wrong),
    never an exception and never an absurd read."""
    with tempfile.TemporaryDirectory() as folder:
        damaged = damaged_copy(samples["svs"], edits, Path(folder))
        tiles = open_stored_jpeg_tiles(damaged, ((2220, 2967),))
        if tiles is None:
            return
        try:
            for col, row in ((0, 0), (3, 4), (8, 11), (9, 12), (99, 99)):
                tile = tiles.tile(0, col, row)
                assert tile is None or (tile.startswith(b"\xff\xd8") and tile.endswith(b"\xff\xd9"))
                assert tile is None or len(tile) <= MAX_TILE_BYTES + 4096
        finally:
            tiles.close()
