"""Air bubbles under the coverslip (SPEC E2).

A bubble shows as a closed, dark and colourless rim (light refracted away at the air-mountant
interface) around a hazier interior. Stain is never grey: dark pixels of low saturation that
close into a ring are the rim; the area the ring encloses is the bubble.
"""

from __future__ import annotations

import numpy as np

from pathodesk.tissue.morphology import closing, components, fill_holes

RIM_MAX_VALUE = 0.5  # HSV value: darker than nearly all stained tissue at low power
RIM_MAX_SATURATION = 0.25  # stain is coloured; the refraction rim is grey
BUBBLE_MIN_AREA_UM2 = 10_000.0  # a disc of ~110 µm diameter
ENCLOSED_TO_RIM = 1.5  # a ring encloses more than it covers; a dark speck does not


def bubble_mask(image_hsv: np.ndarray, mpp: float) -> np.ndarray:
    """Boolean mask of the area inside bubble rims (``image_hsv`` from ``tissue.mask.hsv``)."""
    rim = (image_hsv[..., 2] < RIM_MAX_VALUE) & (image_hsv[..., 1] < RIM_MAX_SATURATION)
    if not rim.any():
        return rim
    rim = closing(rim, 1)
    labels, area = components(fill_holes(rim))
    rim_area = np.bincount(labels[rim], minlength=len(area))
    keep = (area >= BUBBLE_MIN_AREA_UM2 / (mpp * mpp)) & (area >= ENCLOSED_TO_RIM * rim_area)
    keep[0] = False
    return np.asarray(keep[labels])
