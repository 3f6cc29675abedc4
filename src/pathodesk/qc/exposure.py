"""Over- and under-exposure: glass should be bright but not clipped, tissue not washed out."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

MIN_SHARE = 0.02  # less glass (or tissue) than this in view: its brightness is not measured


class ExposureStats(NamedTuple):
    glass_brightness: float | None  # median grey; None when there is hardly any glass
    tissue_brightness: float | None  # median grey; None when there is hardly any tissue
    clipped_fraction: float  # share of the image clipped white


def exposure_stats(rgb: np.ndarray, tissue: np.ndarray) -> ExposureStats:
    """Without glass in view (a crop inside the tissue) the light source is not measured: the
    tissue's own brightness says nothing about it; nor, without tissue, the staining."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    return ExposureStats(
        _median_where(grey, ~tissue), _median_where(grey, tissue), float((_channel_min(rgb) >= 254).mean())
    )


def _median_where(grey: np.ndarray, where: np.ndarray) -> float | None:
    return float(np.median(grey[where])) if where.mean() >= MIN_SHARE else None


def exposure_mask(rgb: np.ndarray, tissue: np.ndarray) -> np.ndarray:
    """Near-black pixels anywhere, and clipped-white ones inside tissue (glass may be white):
    detail there is lost to exposure."""
    darkest = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]) <= 20
    return np.asarray(darkest | (tissue & (_channel_min(rgb) >= 254)))


def _channel_min(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]))
