"""A slide stored at low resolution (SPEC E1), read at the scan's full magnification (E8).

The stored pyramid says in its description that it is 1/``factor`` of a scan and how large
the scan was. ``SuperResolvedReader`` presents the scan's geometry: level 0 at the scan's
size and the levels between it and the stored resolution (×2 steps) are made on demand by
an ``Enlarge`` function, the stored levels below are read as they are. Level-0 coordinates
are the scan's, so annotations and analyses made on a full scan and on its low-resolution
copy agree.

Each region is enlarged from the stored pixels around it plus ``context_px`` on every side
(more than the generator's reach), so neighbouring tiles join without seams. Which network
enlarges is not this module's business (slides never import the models): the caller passes
``Enlarge``, and "stored pixels" (bicubic) is one such function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pathodesk.slides.base import Size, SlideInfo, SlideReader
from pathodesk.slides.open import open_slide

STORED_DOWNSAMPLE = "pathodesk.stored_downsample"  # property: the file is 1/N of its scan
SCAN_SIZE = "pathodesk.scan_size"  # property: "W×H" of the scan at full resolution

# enlarge(low RGB, factor) -> RGB ``factor`` times larger; factor is a power of two ≥ 2
Enlarge = Callable[[np.ndarray, int], np.ndarray]


def stored_downsample(info: SlideInfo) -> int:
    """1 for a slide stored at its scan's resolution, else the linear factor it was reduced by."""
    try:
        return max(1, int(info.properties.get(STORED_DOWNSAMPLE, "1")))
    except ValueError:
        return 1


def bicubic_enlarge(low: np.ndarray, factor: int) -> np.ndarray:
    """The stored pixels, only larger: what the viewer shows when asked not to generate."""
    return cv2.resize(low, (low.shape[1] * factor, low.shape[0] * factor), interpolation=cv2.INTER_CUBIC)


def scan_info(stored: SlideInfo, factor: int) -> SlideInfo:
    """The scan's geometry: generated levels (downsample 1, 2, … < factor) above the stored ones."""
    width, height = (int(v) for v in stored.properties[SCAN_SIZE].split("x"))
    generated = [2**k for k in range(int(math.log2(factor)))]
    dimensions = [(math.ceil(width / d), math.ceil(height / d)) for d in generated]
    downsamples = [float(d) for d in generated]
    for size, downsample in zip(stored.level_dimensions, stored.level_downsamples, strict=True):
        dimensions.append(size)
        downsamples.append(downsample * factor)
    return replace(
        stored,
        level_dimensions=tuple(dimensions),
        level_downsamples=tuple(downsamples),
        mpp_x=stored.mpp_x / factor if stored.mpp_x else None,
        mpp_y=stored.mpp_y / factor if stored.mpp_y else None,
        objective_power=stored.objective_power * factor if stored.objective_power else None,
    )


class SuperResolvedReader:
    """``stored`` (a 1/factor pyramid) read at the scan's resolution through ``enlarge``."""

    def __init__(
        self,
        stored: SlideReader,
        enlarge: Enlarge,
        context_px: int = 20,  # ml.superres_nets.CONTEXT_LOW_PX
    ) -> None:
        self.stored, self.enlarge, self.context_px = stored, enlarge, context_px
        self.factor = stored_downsample(stored.info)
        if self.factor < 2 or self.factor & (self.factor - 1):
            raise ValueError("a super-resolved slide needs a stored downsample that is a power of two")
        self.generated_levels = int(math.log2(self.factor))
        self.info = scan_info(stored.info, self.factor)
        self.thread_safe = stored.thread_safe

    def is_generated(self, level: int) -> bool:
        return level < self.generated_levels

    def read_region(self, location: Size, level: int, size: Size) -> np.ndarray:
        if not self.is_generated(level):
            return self.stored.read_region(
                (location[0] // self.factor, location[1] // self.factor), level - self.generated_levels, size
            )
        enlargement = self.factor // 2**level  # stored pixels → this level's pixels
        # the stored pixels under the region, whole ones, plus context on every side
        x0, y0 = location[0] / self.factor, location[1] / self.factor
        span_w, span_h = size[0] / enlargement, size[1] / enlargement
        left, top = math.floor(x0) - self.context_px, math.floor(y0) - self.context_px
        right = math.ceil(x0 + span_w) + self.context_px
        bottom = math.ceil(y0 + span_h) + self.context_px
        stored_w, stored_h = self.stored.info.dimensions
        clipped = (max(0, left), max(0, top), min(stored_w, right), min(stored_h, bottom))
        out = np.full((size[1], size[0], 3), 255, np.uint8)  # beyond the slide: white, as stored levels
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            return out
        low = self.stored.read_region(
            (clipped[0], clipped[1]), 0, (clipped[2] - clipped[0], clipped[3] - clipped[1])
        )
        high = self.enlarge(np.ascontiguousarray(low[..., :3]), enlargement)
        # the region's place in the enlarged pixels
        offset_x = round((x0 - clipped[0]) * enlargement)
        offset_y = round((y0 - clipped[1]) * enlargement)
        crop = high[max(0, offset_y) : offset_y + size[1], max(0, offset_x) : offset_x + size[0]]
        paste_x, paste_y = max(0, -offset_x), max(0, -offset_y)
        out[paste_y : paste_y + crop.shape[0], paste_x : paste_x + crop.shape[1]] = crop[
            : size[1] - paste_y, : size[0] - paste_x
        ]
        return out

    def associated_image(self, name: str) -> Image.Image:
        return self.stored.associated_image(name)

    def close(self) -> None:
        self.stored.close()


def open_scan(path: Path, enlarge: Enlarge = bicubic_enlarge) -> SlideReader:
    """A slide file in its scan's coordinates, whatever resolution it is stored at: what
    analyses and registration read, so their outlines land where they would on the scan."""
    reader = open_slide(path)
    return SuperResolvedReader(reader, enlarge) if stored_downsample(reader.info) > 1 else reader
