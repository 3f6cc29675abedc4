"""Plain raster images (PNG, JPEG, BMP): decoded once and reduced into an in-memory pyramid."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from pathodesk.errors import NotFoundError, UnsupportedSlideError
from pathodesk.slides.base import Size, SlideInfo, crop_onto_white, downsamples_from_dimensions, plausible_mpp

MAX_RASTER_PIXELS = 400_000_000
SMALLEST_LEVEL_PX = 512


def build_pyramid(image: np.ndarray, smallest_px: int = SMALLEST_LEVEL_PX) -> list[np.ndarray]:
    """Halve with area averaging until the long side fits ``smallest_px``.

    Each level is ``ceil(previous / 2)`` so level geometry matches Deep Zoom's.
    """
    levels = [image]
    while max(levels[-1].shape[:2]) > smallest_px:
        previous = levels[-1]
        height, width = previous.shape[:2]
        if height % 2 or width % 2:  # pad odd edges by replication so ceil(n/2) comes out
            previous = cv2.copyMakeBorder(previous, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
        levels.append(
            cv2.resize(previous, ((width + 1) // 2, (height + 1) // 2), interpolation=cv2.INTER_AREA)
        )
    return levels


class RasterSlideReader:
    """For photographs and exported tiles; thread-safe because the arrays are read-only."""

    thread_safe = True

    def __init__(self, path: Path) -> None:
        Image.MAX_IMAGE_PIXELS = MAX_RASTER_PIXELS
        try:
            with Image.open(path) as opened:
                image_format = (opened.format or "raster").lower()
                dpi = opened.info.get("dpi")
                image = np.asarray(opened.convert("RGB"))
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise UnsupportedSlideError(
                "%(name)s is not a readable image: %(exc)s", name=path.name, exc=exc
            ) from exc
        mpp = None
        if dpi and float(dpi[0]) > 0:
            mpp = plausible_mpp(25_400.0 / float(dpi[0]))
        self._init_from_array(image, image_format, mpp)

    @classmethod
    def from_array(cls, image: np.ndarray, mpp: float | None = None) -> RasterSlideReader:
        """A reader over pixels already in memory (used to write pyramids and in tests)."""
        reader = cls.__new__(cls)
        reader._init_from_array(np.ascontiguousarray(image[..., :3]), "array", mpp)
        return reader

    def _init_from_array(self, image: np.ndarray, image_format: str, mpp: float | None) -> None:
        self._levels = build_pyramid(image)
        for level in self._levels:
            level.setflags(write=False)
        dimensions = tuple((lv.shape[1], lv.shape[0]) for lv in self._levels)
        self.info = SlideInfo(
            format=image_format,
            vendor=None,
            level_dimensions=dimensions,
            level_downsamples=downsamples_from_dimensions(dimensions),
            mpp_x=mpp,
            mpp_y=mpp,
        )

    def read_region(self, location: Size, level: int, size: Size) -> np.ndarray:
        pixels = self._levels[level]
        downsample = self.info.level_downsamples[level]
        return crop_onto_white(pixels, int(location[0] // downsample), int(location[1] // downsample), size)

    def associated_image(self, name: str) -> Image.Image:
        raise NotFoundError("no associated image %(name)r", name=name)

    def close(self) -> None:
        self._levels = []
