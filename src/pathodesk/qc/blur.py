"""Blur (SPEC E2: gradient / spatial-frequency operators) per tissue tile.

Sharpness is the variance of the Laplacian divided by the tile's own grey-level variance:
dividing by contrast keeps smooth but in-focus stroma from being flagged, the most common
false alarm of raw Laplacian variance (HistoQC's users report it).
"""

from __future__ import annotations

import cv2
import numpy as np

SHARPNESS_EPSILON = 1.0


def sharpness(rgb: np.ndarray) -> float:
    """Contrast-normalised Laplacian variance of an RGB tile (higher = sharper)."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    return float(laplacian.var() / (grey.var() + SHARPNESS_EPSILON))


def blurred_fraction(sharpness_values: list[float], threshold: float) -> float:
    """Share of tissue tiles below the sharpness threshold (the blurred area)."""
    if not sharpness_values:
        return 0.0
    return float(np.mean(np.asarray(sharpness_values) < threshold))
