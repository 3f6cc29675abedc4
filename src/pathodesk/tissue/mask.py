"""Tissue mask from a low-magnification image (SPEC B1; issue 5, item 1).

Binarize a tissue-sensitive channel (HSV saturation: glass is grey-white, stained tissue
is coloured) with Otsu's threshold, floored so that an empty image does not split its own
noise in two; ink from pen marks is taken out first; then a morphological opening removes
specks and dust, a closing joins torn tissue, holes are filled and small objects dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.color import rgb2hsv
from skimage.filters import threshold_otsu
from skimage.morphology import disk, remove_small_objects


@dataclass(frozen=True)
class TissueParams:
    """Defaults for a ~1.25x thumbnail (about 8 µm per pixel)."""

    magnification: float = 1.25
    min_saturation: float = 0.08  # glass stays below this whatever Otsu says
    opening_radius_px: int = 1
    closing_radius_px: int = 3
    min_object_um2: float = 40_000.0  # 0.04 mm²: smaller islands are dust or debris
    default_min_object_px: int = 64  # when the image has no known pixel size
    exclude_pen: bool = True


def pen_ink(rgb: np.ndarray) -> np.ndarray:
    """Pixels of marker ink: green or blue hues (never H&E), or a red purer than eosin
    (eosin-stained tissue is pink, hue ~300-340° and less saturated)."""
    hsv = rgb2hsv(rgb)
    hue, saturation = hsv[..., 0] * 360.0, hsv[..., 1]
    # Hematoxylin is blue-purple (hue ~240-290°): only clearly blue ink counts above 200°.
    green_blue = ((hue > 70) & (hue < 200) & (saturation > 0.15)) | (
        (hue >= 200) & (hue < 250) & (saturation > 0.5)
    )
    red = ((hue < 15) | (hue > 345)) & (saturation > 0.55)
    return green_blue | red


def tissue_channel(rgb: np.ndarray, exclude_pen: bool = True) -> np.ndarray:
    """Saturation in [0, 1]; ink pixels set to 0 so they never count as tissue."""
    saturation = rgb2hsv(rgb)[..., 1]
    if exclude_pen:
        saturation = np.where(pen_ink(rgb), 0.0, saturation)
    return saturation


def tissue_mask(
    rgb: np.ndarray, mpp: float | None = None, params: TissueParams = TissueParams()
) -> np.ndarray:
    """Boolean mask of tissue in ``rgb`` (H, W, 3 uint8); ``mpp`` is the image's µm per pixel."""
    channel = tissue_channel(rgb[..., :3], params.exclude_pen)
    spread = channel.max() - channel.min()
    threshold = threshold_otsu(channel) if spread > 1e-6 else 1.0
    mask = channel > max(threshold, params.min_saturation)
    if params.opening_radius_px:
        mask = ndimage.binary_opening(mask, structure=disk(params.opening_radius_px))
    if params.closing_radius_px:
        mask = ndimage.binary_closing(mask, structure=disk(params.closing_radius_px), border_value=0)
    mask = ndimage.binary_fill_holes(mask)
    min_px = params.default_min_object_px if not mpp else max(1, round(params.min_object_um2 / (mpp * mpp)))
    return remove_small_objects(mask, max_size=min_px - 1) if min_px > 1 else mask
