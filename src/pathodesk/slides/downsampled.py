"""A slide seen at 1/``factor`` of its linear resolution: what low-resolution storage (SPEC
E1) writes as the stored pyramid instead of the scan. A reader wrapper, like
``overview.py``: each region is read from the scan's nearest finer level and area-averaged,
so a whole slide streams through in tiles and never sits in memory.
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
from PIL import Image

from pathodesk.slides.base import Size, SlideInfo, SlideReader


def downsampled_info(info: SlideInfo, factor: int) -> SlideInfo:
    """Level 0 at 1/factor; the scan's coarser levels kept where they are coarser still."""
    width, height = info.dimensions
    dimensions = [(math.ceil(width / factor), math.ceil(height / factor))]
    downsamples = [1.0]
    for size, downsample in zip(info.level_dimensions, info.level_downsamples, strict=True):
        if downsample > factor * 1.01:
            dimensions.append(size)
            downsamples.append(downsample / factor)
    mpp_x = info.mpp_x * factor if info.mpp_x else None
    mpp_y = info.mpp_y * factor if info.mpp_y else None
    power = info.objective_power / factor if info.objective_power else None
    return replace(
        info,
        level_dimensions=tuple(dimensions),
        level_downsamples=tuple(downsamples),
        mpp_x=mpp_x,
        mpp_y=mpp_y,
        objective_power=power,
    )


class DownsampledReader:
    """``reader`` at 1/``factor``: coordinates are the reduced image's."""

    def __init__(self, reader: SlideReader, factor: int) -> None:
        self.reader, self.factor = reader, factor
        self.info = downsampled_info(reader.info, factor)
        self.thread_safe = reader.thread_safe

    def read_region(self, location: Size, level: int, size: Size) -> np.ndarray:
        wanted = self.info.level_downsamples[level] * self.factor  # in the scan's level-0 pixels
        source = self.reader.info.best_level_for_downsample(wanted)
        source_downsample = self.reader.info.level_downsamples[source]
        read = (
            max(1, round(size[0] * wanted / source_downsample)),
            max(1, round(size[1] * wanted / source_downsample)),
        )
        origin = (location[0] * self.factor, location[1] * self.factor)
        pixels = self.reader.read_region(origin, source, read)
        if read != size:
            pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        return pixels

    def associated_image(self, name: str) -> Image.Image:
        return self.reader.associated_image(name)

    def close(self) -> None:
        self.reader.close()
