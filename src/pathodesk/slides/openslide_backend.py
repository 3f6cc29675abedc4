"""OpenSlide backend: every vendor format libopenslide reads (SVS, NDPI, MRXS, ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openslide
from PIL import Image

from pathodesk.errors import NotFoundError, UnsupportedSlideError
from pathodesk.slides.base import Size, SlideInfo, rgba_to_rgb_on_white
from pathodesk.slides.stored_jpeg import open_stored_jpeg_tiles

# formats whose levels are TIFF pages as they are (no offsets, overlaps or collections)
AS_STORED = frozenset({"aperio", "generic-tiff"})


def _float_property(properties: dict[str, str], key: str) -> float | None:
    try:
        value = float(properties[key])
    except (KeyError, ValueError):
        return None
    return value if value > 0 else None


class OpenSlideReader:
    """Wraps ``openslide.OpenSlide``; libopenslide handles are safe to share across threads.

    Levels a TIFF-based format (Aperio SVS, generic tiled TIFF) stores as JPEG tiles are also
    served as stored (``stored_jpeg``): OpenSlide would decode them to ARGB only for the
    server to encode them again."""

    thread_safe = True

    def __init__(self, path: Path) -> None:
        self._name = path.name
        try:
            self._slide = openslide.OpenSlide(str(path))
        except openslide.OpenSlideError as exc:
            raise self._unreadable(exc) from exc
        try:
            self._describe(path)
        except Exception as exc:  # a damaged file can open and fail on its properties
            self._slide.close()
            raise self._unreadable(exc) from exc

    def _describe(self, path: Path) -> None:
        properties = dict(self._slide.properties)
        self.info = SlideInfo(
            format=str(openslide.OpenSlide.detect_format(str(path))),
            vendor=properties.get(openslide.PROPERTY_NAME_VENDOR),
            level_dimensions=tuple(self._slide.level_dimensions),
            level_downsamples=tuple(float(d) for d in self._slide.level_downsamples),
            mpp_x=_float_property(properties, openslide.PROPERTY_NAME_MPP_X),
            mpp_y=_float_property(properties, openslide.PROPERTY_NAME_MPP_Y),
            objective_power=_float_property(properties, openslide.PROPERTY_NAME_OBJECTIVE_POWER),
            associated_images=tuple(sorted(self._slide.associated_images.keys())),
            properties=properties,
        )
        self._stored = (
            open_stored_jpeg_tiles(path, self.info.level_dimensions)
            if self.info.format in AS_STORED
            else None
        )

    def _unreadable(self, exc: Exception) -> UnsupportedSlideError:
        """OpenSlide's own error, readable; after one, OpenSlide refuses every later read of
        the open slide too (a damaged tile or directory)."""
        return UnsupportedSlideError("OpenSlide cannot read %(name)s: %(exc)s", name=self._name, exc=exc)

    def native_tile_size(self, level: int) -> Size | None:
        return None if self._stored is None else self._stored.tile_size(level)

    def native_jpeg_tile(self, level: int, col: int, row: int) -> bytes | None:
        return None if self._stored is None else self._stored.tile(level, col, row)

    def read_region(self, location: Size, level: int, size: Size) -> np.ndarray:
        try:
            region = self._slide.read_region(location, level, size)
        except openslide.OpenSlideError as exc:
            raise self._unreadable(exc) from exc
        return rgba_to_rgb_on_white(np.asarray(region))

    def associated_image(self, name: str) -> Image.Image:
        if name not in self.info.associated_images:
            raise NotFoundError("no associated image %(name)r", name=name)
        try:
            return self._slide.associated_images[name].convert("RGB")
        except openslide.OpenSlideError as exc:
            raise self._unreadable(exc) from exc

    def close(self) -> None:
        self._slide.close()
        if self._stored is not None:
            self._stored.close()
