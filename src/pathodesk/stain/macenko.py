"""Macenko et al., "A method for normalizing histology slides for quantitative analysis",
ISBI 2009: the two stains are the extreme angles of tissue OD in the plane of its two
main directions (robust extremes: the 1st and 99th percentiles)."""

from __future__ import annotations

import numpy as np

from pathodesk.stain.optical import ordered_he

ANGLE_PERCENTILE = 1.0


def macenko_stains(tissue: np.ndarray) -> np.ndarray:
    """(2, 3) unit stain vectors, hematoxylin first, from (n, 3) tissue OD."""
    _, _, axes = np.linalg.svd(tissue - 0.0, full_matrices=False)
    plane = axes[:2]
    plane = plane * np.where(plane.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)  # point into positive OD
    projected = tissue @ plane.T
    angles = np.arctan2(projected[:, 1], projected[:, 0])
    low, high = np.percentile(angles, [ANGLE_PERCENTILE, 100 - ANGLE_PERCENTILE])
    stains = np.array([np.cos(a) * plane[0] + np.sin(a) * plane[1] for a in (low, high)])
    return ordered_he(np.abs(stains))
