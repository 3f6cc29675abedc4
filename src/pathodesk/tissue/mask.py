"""Tissue mask from a low-magnification image (SPEC B1; issue 5, item 1).

Binarize a tissue-sensitive channel (HSV saturation: glass is grey-white, stained tissue
is coloured) with Otsu's threshold, floored so that an empty image does not split its own
noise in two; ink from pen marks is taken out first; then a morphological opening removes
specks and dust, a closing joins torn tissue, holes are filled and small objects dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.filters import threshold_otsu

from pathodesk.tissue.morphology import closing, fill_holes, opening, remove_small


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


def hsv(rgb: np.ndarray) -> np.ndarray:
    """HSV with hue in degrees and saturation/value in [0, 1] (OpenCV: 20x faster than
    scikit-image on a whole-slide thumbnail, same values to 0.002°)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb[..., :3], dtype=np.float32) / 255.0, cv2.COLOR_RGB2HSV)


def pen_ink_hsv(image_hsv: np.ndarray) -> np.ndarray:
    """Pixels of marker ink: green or blue hues (never H&E), or a red purer than eosin
    (eosin-stained tissue is pink, hue ~300-340° and less saturated)."""
    hue, saturation = image_hsv[..., 0], image_hsv[..., 1]
    # Hematoxylin is blue-purple (hue ~240-290°): only clearly blue ink counts above 200°.
    green_blue = ((hue > 70) & (hue < 200) & (saturation > 0.15)) | (
        (hue >= 200) & (hue < 250) & (saturation > 0.5)
    )
    red = ((hue < 15) | (hue > 345)) & (saturation > 0.55)
    return green_blue | red


def pen_ink(rgb: np.ndarray) -> np.ndarray:
    return pen_ink_hsv(hsv(rgb))


def tissue_channel(image_hsv: np.ndarray, exclude_pen: bool = True) -> np.ndarray:
    """Saturation in [0, 1]; ink pixels set to 0 so they never count as tissue."""
    saturation = image_hsv[..., 1]
    if exclude_pen:
        saturation = np.where(pen_ink_hsv(image_hsv), 0.0, saturation)
    return saturation


def tissue_mask(
    rgb: np.ndarray, mpp: float | None = None, params: TissueParams = TissueParams()
) -> np.ndarray:
    """Boolean mask of tissue in ``rgb`` (H, W, 3 uint8); ``mpp`` is the image's µm per pixel."""
    return tissue_mask_hsv(hsv(rgb), mpp, params)


def tissue_mask_hsv(
    image_hsv: np.ndarray, mpp: float | None = None, params: TissueParams = TissueParams()
) -> np.ndarray:
    """As ``tissue_mask``, from an image already converted with ``hsv``."""
    channel = tissue_channel(image_hsv, params.exclude_pen)
    spread = channel.max() - channel.min()
    threshold = threshold_otsu(channel) if spread > 1e-6 else 1.0
    mask = channel > max(threshold, params.min_saturation)
    if params.opening_radius_px:
        mask = opening(mask, params.opening_radius_px)
    if params.closing_radius_px:
        mask = closing(mask, params.closing_radius_px)
    mask = fill_holes(mask)
    min_px = params.default_min_object_px if not mpp else max(1, round(params.min_object_um2 / (mpp * mpp)))
    return remove_small(mask, min_px)
