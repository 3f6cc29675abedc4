"""Coarse levels computed once for slides that stop short of a small overview.

A single-level SVS or a plain TIFF has no reduced levels, so every low-zoom Deep Zoom tile
would decode the whole image again (hundreds of milliseconds each). ``with_overview_levels``
adds in-memory levels at 2×, 4×, … below the coarsest stored one, built in one streamed
pass the first time a low zoom is asked for; the reader is otherwise unchanged.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import cv2
import numpy as np
from PIL import Image

from pathodesk.slides.base import NativeTileSource, Size, SlideInfo, SlideReader, crop_onto_white

STEP = 2
SMALLEST_PX = 512
LARGEST_STORED_PX = 1024  # a coarsest level above this gets overview levels
MAX_OVERVIEW_PIXELS = 64_000_000
BLOCK_PX = 4096


def _overview_plan(info: SlideInfo) -> list[tuple[float, Size]]:
    """(downsample, size) of each level to add, coarsest last."""
    width0, height0 = info.dimensions
    coarsest = info.level_dimensions[-1]
    downsample = info.level_downsamples[-1]
    if max(coarsest) <= LARGEST_STORED_PX:
        return []
    plan: list[tuple[float, Size]] = []
    factor = STEP
    while (coarsest[0] / factor) * (coarsest[1] / factor) > MAX_OVERVIEW_PIXELS:
        factor *= STEP
    size = coarsest
    while max(size) > SMALLEST_PX:
        downsample *= factor if not plan else STEP
        size = (math.ceil(width0 / downsample), math.ceil(height0 / downsample))
        plan.append((downsample, size))
    return plan


class OverviewLevels:
    """A SlideReader adding computed coarse levels to another reader."""

    thread_safe = True

    def __init__(self, reader: SlideReader, plan: list[tuple[float, Size]]) -> None:
        self.reader = reader
        self._stored = reader.info.level_count
        self._plan = plan
        self._levels: list[np.ndarray] | None = None
        self._lock = threading.Lock()
        self.info = replace(
            reader.info,
            level_dimensions=reader.info.level_dimensions + tuple(size for _, size in plan),
            level_downsamples=reader.info.level_downsamples + tuple(ds for ds, _ in plan),
        )

    def native_tile_size(self, level: int) -> Size | None:
        if level >= self._stored or not isinstance(self.reader, NativeTileSource):
            return None
        return self.reader.native_tile_size(level)

    def native_jpeg_tile(self, level: int, col: int, row: int) -> bytes | None:
        if self.native_tile_size(level) is None:
            return None
        assert isinstance(self.reader, NativeTileSource)
        return self.reader.native_jpeg_tile(level, col, row)

    def build(self) -> list[np.ndarray]:
        """Compute the overview levels now (idempotent); the viewer does it on opening."""
        with self._lock:
            if self._levels is not None:
                return self._levels
            source_level = self._stored - 1
            source_width, source_height = self.reader.info.level_dimensions[source_level]
            source_downsample = self.reader.info.level_downsamples[source_level]
            first_downsample, (width, height) = self._plan[0]
            factor = round(first_downsample / source_downsample)
            first = np.empty((height, width, 3), dtype=np.uint8)
            block = BLOCK_PX - BLOCK_PX % factor
            for y in range(0, source_height, block):
                for x in range(0, source_width, block):
                    w, h = min(block, source_width - x), min(block, source_height - y)
                    pixels = self.reader.read_region(
                        (round(x * source_downsample), round(y * source_downsample)), source_level, (w, h)
                    )
                    out_w, out_h = math.ceil(w / factor), math.ceil(h / factor)
                    pad_w, pad_h = out_w * factor - w, out_h * factor - h
                    if pad_w or pad_h:
                        pixels = cv2.copyMakeBorder(pixels, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
                    reduced = cv2.resize(pixels, (out_w, out_h), interpolation=cv2.INTER_AREA)
                    first[y // factor : y // factor + out_h, x // factor : x // factor + out_w] = reduced
            levels: list[np.ndarray] = [first]
            for _, (w, h) in self._plan[1:]:
                previous = levels[-1]
                pad_h, pad_w = h * STEP - previous.shape[0], w * STEP - previous.shape[1]
                padded = cv2.copyMakeBorder(previous, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
                levels.append(cv2.resize(padded, (w, h), interpolation=cv2.INTER_AREA))
            for level in levels:
                level.setflags(write=False)
            self._levels = levels
            return levels

    def read_region(self, location: Size, level: int, size: Size) -> np.ndarray:
        if level < self._stored:
            return self.reader.read_region(location, level, size)
        pixels = self.build()[level - self._stored]
        downsample = self.info.level_downsamples[level]
        x, y = math.floor(location[0] / downsample), math.floor(location[1] / downsample)
        return crop_onto_white(pixels, x, y, size)

    def associated_image(self, name: str) -> Image.Image:
        return self.reader.associated_image(name)

    def close(self) -> None:
        self.reader.close()


def with_overview_levels(reader: SlideReader) -> SlideReader:
    plan = _overview_plan(reader.info)
    return OverviewLevels(reader, plan) if plan else reader
