"""Write multi-level tiled JPEG TIFF pyramids that PathoDesk, OpenSlide and QuPath all read.

Level k holds ``ceil(W / 2**k)`` x ``ceil(H / 2**k)`` pixels: exactly Deep Zoom's geometry,
so every stored tile of 256 px lines up with a Deep Zoom tile and can be served as is.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import tifffile

from pathodesk.progress import Progress
from pathodesk.slides.base import SlideReader
from pathodesk.slides.tiff_backend import PYRAMID_SOFTWARE


def pyramid_dimensions(width: int, height: int, tile: int) -> list[tuple[int, int]]:
    """Level sizes down to the first level that fits in one tile."""
    dims = [(width, height)]
    k = 0
    while max(dims[-1]) > tile:
        k += 1
        dims.append((math.ceil(width / 2**k), math.ceil(height / 2**k)))
    return dims


def level_tile(source: SlideReader, k: int, col: int, row: int, tile: int) -> np.ndarray:
    """Tile (col, row) of pyramid level ``k`` (1/2**k), read from the source's nearest level."""
    scale = 2**k
    source_level = source.info.best_level_for_downsample(scale)
    source_downsample = source.info.level_downsamples[source_level]
    read_px = max(1, round(tile * scale / source_downsample))
    region = source.read_region((col * tile * scale, row * tile * scale), source_level, (read_px, read_px))
    if read_px != tile:
        region = cv2.resize(region, (tile, tile), interpolation=cv2.INTER_AREA)
    return region


def pyramid_tiles(width: int, height: int, tile: int) -> list[tuple[int, int, int]]:
    """(level, col, row) of every tile of the pyramid, in the order it is written."""
    return [
        (k, col, row)
        for k, (w, h) in enumerate(pyramid_dimensions(width, height, tile))
        for row in range(math.ceil(h / tile))
        for col in range(math.ceil(w / tile))
    ]


TileSource = Callable[[int, int, int], np.ndarray]  # (level, col, row) -> RGB tile


def _level_tiles(
    tiles: TileSource, k: int, size: tuple[int, int], tile: int, on_tile: Callable[[], None]
) -> Iterator[np.ndarray]:
    columns, rows = math.ceil(size[0] / tile), math.ceil(size[1] / tile)
    for row in range(rows):
        for col in range(columns):
            region = tiles(k, col, row)
            on_tile()
            yield region


def _reading(source: SlideReader, tile: int) -> TileSource:
    return lambda k, col, row: level_tile(source, k, col, row, tile)


def write_pyramid(
    source: SlideReader,
    destination: Path,
    *,
    tile: int = 256,
    quality: int = 90,
    mpp: float | None = None,
    objective_power: float | None = None,
    progress: Progress | None = None,
    describe: dict[str, str] | None = None,
    associated: dict[str, np.ndarray] | None = None,
    tiles: TileSource | None = None,
) -> Path:
    """Write ``source`` as a pyramid; the file appears only when complete (atomic rename).
    ``describe`` adds facts to the description, read back as ``pathodesk.<key>`` properties
    (low-resolution storage: the stored downsample and the scan's size). ``associated``
    images (label, macro) follow the pyramid as pages of their own, described by name.
    ``tiles`` gives the tiles instead of ``source`` (made elsewhere: a split job's parts)."""
    if tile % 16:
        raise ValueError("TIFF tile size must be a multiple of 16")
    width, height = source.info.dimensions
    levels = pyramid_dimensions(width, height, tile)
    total = sum(math.ceil(w / tile) * math.ceil(h / tile) for w, h in levels)
    done = 0

    def on_tile() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    mpp = mpp if mpp is not None else source.info.mpp_x
    objective_power = objective_power if objective_power is not None else source.info.objective_power
    description = json.dumps(
        {"mpp": mpp, "objective_power": objective_power, "tile": tile, **(describe or {})}
    )
    temporary = destination.with_name(destination.name + ".part")
    resolution = (10_000 / mpp, 10_000 / mpp) if mpp else None
    try:
        with tifffile.TiffWriter(temporary, bigtiff=width * height > 2**31) as writer:
            for k, size in enumerate(levels):
                writer.write(
                    _level_tiles(tiles or _reading(source, tile), k, size, tile, on_tile),
                    shape=(size[1], size[0], 3),
                    dtype=np.uint8,
                    tile=(tile, tile),
                    photometric="rgb",  # tifffile stores JPEG as YCbCr (tag 6) from RGB input
                    compression="jpeg",
                    compressionargs={"level": quality},
                    subfiletype=1 if k else 0,
                    software=PYRAMID_SOFTWARE,
                    description=description if k == 0 else None,
                    resolution=resolution,
                    resolutionunit="CENTIMETER" if resolution else None,
                    metadata=None,
                )
            for name, image in (associated or {}).items():
                writer.write(
                    np.ascontiguousarray(image[..., :3]),
                    photometric="rgb",
                    compression="jpeg",
                    compressionargs={"level": quality},
                    description=name,
                    software=PYRAMID_SOFTWARE,
                    metadata=None,
                )
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)
    return destination
