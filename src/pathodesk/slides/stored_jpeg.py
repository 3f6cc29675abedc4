"""Stored JPEG tiles of a TIFF served as complete JPEG files, never decoded (issue 22).

Most slide TIFFs (Aperio SVS, libvips and other generic pyramids) keep the quantisation
and Huffman tables shared by a level's tiles once, in the JPEGTables tag; each tile is an
abbreviated stream without them. The tables put in front of the tile's own segments make
a complete image with exactly the stored pixels. Tiles coded as RGB (Aperio's) get an Adobe
APP14 segment saying so, as the TIFF's photometric tag does: a browser left to guess from
the component ids would take them for YCbCr. The viewer's cold
path then needs no codec for these tiles, as IIPImage needs one for every tile.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import tifffile

from pathodesk.slides.base import Size

JPEG_COMPRESSION = 7
RGB_PHOTOMETRIC = 2
YCBCR_PHOTOMETRIC = 6
SOI, EOI = b"\xff\xd8", b"\xff\xd9"
JFIF = b"\xff\xe0"
MAX_TILE_BYTES = 16 * 1024 * 1024  # a 4096-px RGB tile at any JPEG quality is smaller


# APP14 "Adobe": version 100, no flags, transform 0 (the components are R, G, B)
ADOBE_RGB = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"


def servable(page: tifffile.TiffPage) -> bool:
    """A tiled 3-channel JPEG level whose tiles a browser shows as stored once completed.

    RGB-coded tiles that carry a JFIF segment are left out: JFIF means YCbCr to a decoder,
    whatever the Adobe segment says."""
    return bool(
        page.is_tiled
        and page.compression == JPEG_COMPRESSION
        and page.samplesperpixel == 3
        and page.planarconfig == 1
        and page.photometric in (RGB_PHOTOMETRIC, YCBCR_PHOTOMETRIC)
    )


def complete_jpeg(tile: bytes, tables: bytes | None, photometric: int) -> bytes | None:
    """The tile as a standalone JPEG file; None when its bytes are not a whole JPEG stream
    (a damaged or truncated tile is then decoded by the reader, which says what is wrong)."""
    if not (tile.startswith(SOI) and tile.endswith(EOI)):
        return None
    if tables is not None and not (tables.startswith(SOI) and tables.endswith(EOI)):
        return None
    if photometric == RGB_PHOTOMETRIC and JFIF in tile[:64]:
        return None
    shared = tables[2:-2] if tables is not None else b""
    coding = ADOBE_RGB if photometric == RGB_PHOTOMETRIC else b""
    return SOI + coding + shared + tile[2:]


def read_tile(fd: int, page: tifffile.TiffPage, col: int, row: int) -> bytes | None:
    """One stored tile of ``page`` as a standalone JPEG, read from the open file ``fd``;
    None for a tile the scanner never wrote (the reader fills it) or one not whole."""
    index = row * math.ceil(page.imagewidth / page.tilewidth) + col
    written = min(len(page.dataoffsets), len(page.databytecounts))  # unequal in a damaged directory
    if not 0 <= index < written or not 0 < page.databytecounts[index] <= MAX_TILE_BYTES:
        return None  # never written, or a byte count no tile has (a damaged directory)
    data = os.pread(fd, page.databytecounts[index], page.dataoffsets[index])
    return complete_jpeg(data, page.jpegtables, page.photometric)


class StoredJpegTiles:
    """Complete JPEG tiles of those levels of a slide file that a TIFF page stores as JPEG
    tiles; levels are matched to pages by their size, so any reader's level numbers work."""

    def __init__(self, path: Path, level_dimensions: tuple[Size, ...]) -> None:
        self._tif = tifffile.TiffFile(path, _multifile=False)
        pages = {
            (page.imagewidth, page.imagelength): page
            for page in self._tif.pages
            if isinstance(page, tifffile.TiffPage) and servable(page)
        }
        self._levels = {level: pages[size] for level, size in enumerate(level_dimensions) if size in pages}
        self._fd = os.open(path, os.O_RDONLY)

    @property
    def levels(self) -> tuple[int, ...]:
        return tuple(self._levels)

    def tile_size(self, level: int) -> Size | None:
        page = self._levels.get(level)
        return None if page is None else (page.tilewidth, page.tilelength)

    def tile(self, level: int, col: int, row: int) -> bytes | None:
        page = self._levels.get(level)
        return None if page is None else read_tile(self._fd, page, col, row)

    def close(self) -> None:
        os.close(self._fd)
        self._tif.close()


def open_stored_jpeg_tiles(path: Path, level_dimensions: tuple[Size, ...]) -> StoredJpegTiles | None:
    """None for files that are not TIFF, cannot be parsed or hold no JPEG tiles at any level."""
    try:
        tiles = StoredJpegTiles(path, level_dimensions)
    except Exception:  # an accelerator only: a file tifffile cannot parse is read as before
        return None
    if not tiles.levels:
        tiles.close()
        return None
    return tiles
