"""The one SlideReader protocol every backend implements (ARCHITECTURE: slides/)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

Size = tuple[int, int]

# A level is an exact power-of-two reduction when its downsample is this close to 2**k.
POWER_OF_TWO_TOLERANCE = 0.01


@dataclass(frozen=True)
class SlideInfo:
    """What the UI, the database and Deep Zoom need to know about a slide."""

    format: str
    vendor: str | None
    level_dimensions: tuple[Size, ...]
    level_downsamples: tuple[float, ...]
    mpp_x: float | None = None
    mpp_y: float | None = None
    objective_power: float | None = None
    associated_images: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def dimensions(self) -> Size:
        return self.level_dimensions[0]

    @property
    def level_count(self) -> int:
        return len(self.level_dimensions)

    def best_level_for_downsample(self, downsample: float) -> int:
        return best_level(self.level_downsamples, downsample)


def best_level(level_downsamples: tuple[float, ...], downsample: float) -> int:
    """The coarsest level whose downsample does not exceed ``downsample``.

    Reading from it and reducing keeps detail while never touching more pixels than
    needed (issue 2: never read level 0 for a low zoom).
    """
    best = 0
    for level, level_downsample in enumerate(level_downsamples):
        if level_downsample <= downsample * (1 + 1e-6):
            best = level
    return best


@runtime_checkable
class SlideReader(Protocol):
    """Uniform read access to one open slide file.

    ``read_region`` follows OpenSlide's convention: ``location`` in level-0 pixels,
    ``size`` in pixels of ``level``. It returns RGB uint8 (height, width, 3); pixels outside
    the image are white, like glass.
    """

    info: SlideInfo
    thread_safe: bool

    def read_region(self, location: Size, level: int, size: Size) -> np.ndarray: ...

    def associated_image(self, name: str) -> Image.Image: ...

    def close(self) -> None: ...


@runtime_checkable
class NativeTileSource(Protocol):
    """A reader whose stored tiles can be served as they are (JPEG passthrough)."""

    def native_tile_size(self, level: int) -> Size | None: ...

    def native_jpeg_tile(self, level: int, col: int, row: int) -> bytes | None: ...


def downsamples_from_dimensions(dimensions: tuple[Size, ...]) -> tuple[float, ...]:
    """Per-level downsample; snapped to 2**k when a level is an exact halving chain.

    Slides store ``ceil(W / 2**k)`` pixels per level, so the ratio of sizes is not exactly
    a power of two; snapping keeps tile geometry exact.
    """
    width0, height0 = dimensions[0]
    result: list[float] = []
    for width, height in dimensions:
        raw = (width0 / width + height0 / height) / 2
        k = round(math.log2(raw)) if raw > 0 else 0
        if (
            abs(raw / 2**k - 1) < POWER_OF_TWO_TOLERANCE
            and math.ceil(width0 / 2**k) == width
            and math.ceil(height0 / 2**k) == height
        ):
            result.append(float(2**k))
        else:
            result.append(raw)
    return tuple(result)


def white_canvas(size: Size) -> np.ndarray:
    return np.full((size[1], size[0], 3), 255, dtype=np.uint8)


def clip_to(x: int, y: int, size: Size, bounds: Size) -> tuple[int, int, int, int]:
    """The part (x0, y0, x1, y1) of a ``size`` region at (x, y) that lies inside ``bounds``;
    empty (x1 <= x0 or y1 <= y0) when the region misses the image."""
    return max(x, 0), max(y, 0), min(x + size[0], bounds[0]), min(y + size[1], bounds[1])


def crop_onto_white(pixels: np.ndarray, x: int, y: int, size: Size) -> np.ndarray:
    """A ``size`` region at (x, y) of an image held in memory; outside it is white glass."""
    out = white_canvas(size)
    x0, y0, x1, y1 = clip_to(x, y, size, (pixels.shape[1], pixels.shape[0]))
    if x1 > x0 and y1 > y0:
        out[y0 - y : y1 - y, x0 - x : x1 - x] = pixels[y0:y1, x0:x1]
    return out


def plausible_mpp(mpp: float | None) -> float | None:
    """A pixel size a scanner could have written; 72 or 96 dpi are editors' defaults."""
    return mpp if mpp is not None and 0.05 < mpp < 50 else None


def rgba_to_rgb_on_white(rgba: np.ndarray) -> np.ndarray:
    """Composite straight-alpha RGBA on white (transparent = glass = white)."""
    alpha = rgba[..., 3]
    if alpha.min() == 255:
        return np.ascontiguousarray(rgba[..., :3])
    a = alpha[..., None].astype(np.uint16)
    rgb = (rgba[..., :3].astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
    return rgb.astype(np.uint8)


def thumbnail(reader: SlideReader, max_px: int) -> Image.Image:
    """A whole-slide overview no larger than ``max_px`` on its long side."""
    width, height = reader.info.dimensions
    downsample = max(width, height) / max_px
    level = reader.info.best_level_for_downsample(max(downsample, 1.0))
    level_width, level_height = reader.info.level_dimensions[level]
    region = reader.read_region((0, 0), level, (level_width, level_height))
    image = Image.fromarray(region)
    image.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    return image
