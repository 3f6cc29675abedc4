"""Over- and under-exposure: glass should be bright but not clipped, tissue not washed out."""

from __future__ import annotations

import cv2
import numpy as np


def exposure_stats(rgb: np.ndarray, tissue: np.ndarray) -> dict[str, float]:
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    glass = grey[~tissue] if (~tissue).any() else grey.reshape(-1)
    stained = grey[tissue] if tissue.any() else grey.reshape(-1)
    return {
        "glass_brightness": float(np.median(glass)),
        "tissue_brightness": float(np.median(stained)),
        "clipped_fraction": float((_channel_min(rgb) >= 254).mean()),
    }


def exposure_mask(rgb: np.ndarray, tissue: np.ndarray) -> np.ndarray:
    """Near-black pixels anywhere, and clipped-white ones inside tissue (glass may be white):
    detail there is lost to exposure."""
    darkest = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]) <= 20
    return np.asarray(darkest | (tissue & (_channel_min(rgb) >= 254)))


def _channel_min(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]))
