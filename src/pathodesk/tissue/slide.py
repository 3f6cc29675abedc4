"""Tissue of a whole slide: read a thumbnail at the working magnification, mask it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pathodesk.slides.base import SlideReader
from pathodesk.tissue.mask import TissueParams, hsv, is_dark_field, tissue_mask_hsv

# Magnification-equivalent convention used across PathoDesk: 10 µm/px is 1x.
MICRONS_AT_1X = 10.0
ASSUMED_MPP = 0.5  # 20x, when a slide does not say: keeps the thumbnail small


@dataclass(frozen=True)
class SlideTissue:
    mask: np.ndarray  # bool, thumbnail pixels
    thumbnail: np.ndarray  # RGB the mask was computed on, kept for the QC checks
    thumbnail_hsv: np.ndarray  # its HSV (tissue.mask.hsv), computed once for every check
    downsample: float  # level-0 pixels per mask pixel
    mask_mpp: float | None
    dark_field: bool = False  # fluorescence: the bright-field QC checks do not apply

    @property
    def fraction(self) -> float:
        return float(self.mask.mean()) if self.mask.size else 0.0


def detect_tissue(reader: SlideReader, params: TissueParams = TissueParams()) -> SlideTissue:
    """Mask at ``params.magnification`` (≈8 µm/px at 1.25x); a slide without mpp is taken
    to be 20x (0.5 µm/px), the commonest scan."""
    info = reader.info
    width, height = info.dimensions
    slide_mpp = info.mpp_x or ASSUMED_MPP
    downsample = max(1.0, (MICRONS_AT_1X / params.magnification) / slide_mpp)
    size = (max(1, round(width / downsample)), max(1, round(height / downsample)))
    level = info.best_level_for_downsample(downsample)
    level_size = info.level_dimensions[level]
    region = reader.read_region((0, 0), level, level_size)
    thumbnail = np.asarray(Image.fromarray(region).resize(size, Image.Resampling.BOX))
    actual = width / size[0]
    mpp = slide_mpp * actual
    image_hsv = hsv(thumbnail)
    return SlideTissue(
        tissue_mask_hsv(image_hsv, mpp, params),
        thumbnail,
        image_hsv,
        actual,
        mpp if info.mpp_x else None,
        is_dark_field(image_hsv),
    )
