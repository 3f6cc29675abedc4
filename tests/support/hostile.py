"""Hostile files the outside review used, written by hand so that tests need no download."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import tifffile


def empty_tiled_tiff(path: Path, width: int = 100_000, height: int = 100_000, tile: int = 256) -> Path:
    """A little-endian TIFF declaring ``width`` x ``height`` RGB pixels in JPEG tiles whose
    offsets and byte counts are all zero: about 1.2 MB that claims to be a huge slide."""
    tiles = math.ceil(width / tile) * math.ceil(height / tile)
    entries = [  # (tag, type, count, value or offset); types: 3 SHORT, 4 LONG
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 3, None),  # BitsPerSample 8,8,8 (stored after the IFD)
        (259, 3, 1, 7),  # JPEG
        (262, 3, 1, 2),  # RGB
        (277, 3, 1, 3),
        (284, 3, 1, 1),
        (322, 3, 1, tile),
        (323, 3, 1, tile),
        (324, 4, tiles, None),  # TileOffsets: zeros
        (325, 4, tiles, None),  # TileByteCounts: zeros
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    bits_offset = ifd_offset + ifd_size
    offsets_offset = bits_offset + 6
    counts_offset = offsets_offset + 4 * tiles
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset))
    out += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 258:
            value = bits_offset
        elif tag == 324:
            value = offsets_offset
        elif tag == 325:
            value = counts_offset
        field = struct.pack("<HHI", tag, kind, count)
        field += struct.pack("<HH", value, 0) if kind == 3 and count == 1 else struct.pack("<I", value)
        out += field
    out += struct.pack("<I", 0)
    out += struct.pack("<HHH", 8, 8, 8)
    out += bytes(8 * tiles)
    path.write_bytes(bytes(out))
    return path


def ome_tiff_naming_another_file(path: Path, secret: Path) -> Path:
    """An OME-TIFF with green pixels of its own whose OME-XML says its image data lives in
    ``secret`` (written here, red): a reader that follows the reference shows the secret."""
    tifffile.imwrite(secret, np.full((64, 64, 3), (250, 0, 0), np.uint8), photometric="rgb")
    xml = "\n".join(
        (
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"'
            ' UUID="urn:uuid:11111111-1111-1111-1111-111111111111">',
            '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint8"'
            ' SizeX="64" SizeY="64" SizeC="3" SizeZ="1" SizeT="1">',
            '<Channel ID="Channel:0" SamplesPerPixel="3"/>',
            f'<TiffData IFD="0" PlaneCount="1"><UUID FileName="{secret}">'
            "urn:uuid:22222222-2222-2222-2222-222222222222</UUID></TiffData>",
            "</Pixels></Image></OME>",
        )
    )
    pixels = np.full((64, 64, 3), (0, 200, 0), np.uint8)
    tifffile.imwrite(path, pixels, photometric="rgb", description=xml, metadata=None)
    return path


def damaged_copy(source: Path, edits: list[tuple[int, int]], folder: Path) -> Path:
    """``source`` with the bytes at the edits' offsets (wrapped to its length) set to their
    values: a bad disk or a copy gone wrong, as a fuzzer chooses it."""
    data = bytearray(source.read_bytes())
    for at, value in edits:
        data[at % len(data)] = value
    damaged = folder / f"damaged{source.suffix}"
    damaged.write_bytes(bytes(data))
    return damaged
