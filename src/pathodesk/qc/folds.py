"""Tissue folds (SPEC E2): where the section folded over itself light crosses two layers.

By Beer-Lambert, two layers add their optical densities, so in a fold *both* stains are
denser than in the slide's own tissue: hematoxylin and eosin, separated by colour
deconvolution (Ruifrok & Johnston, as scikit-image's ``hed_from_rgb``). Dense nuclei raise
hematoxylin only, which keeps tumour cell clusters from being flagged. Comparing with the
slide's medians keeps pale and dark stains alike; smoothing over ~25 µm and a minimum area
ignore single cells.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.color import hed_from_rgb

from pathodesk.tissue.morphology import remove_small

FOLD_DENSITY_RATIO = 1.4  # smoothed stain density / the tissue's median, for H and E both
FOLD_SMOOTHING_UM = 12.0  # Gaussian sigma
FOLD_MIN_AREA_UM2 = 5_000.0  # a patch of ~80 µm: larger than any cell cluster the ratio lets through

_DENSITY_OF_LEVEL = -np.log(np.maximum(np.arange(256, dtype=np.float32), 1.0) / 255.0)
_HE_FROM_DENSITY = np.ascontiguousarray(hed_from_rgb.T[:2], dtype=np.float32)  # rows: H, E


def stain_densities(rgb: np.ndarray) -> np.ndarray:
    """Hematoxylin and eosin densities per pixel (float32, H x W x 2)."""
    density = cv2.LUT(np.ascontiguousarray(rgb[..., :3]), _DENSITY_OF_LEVEL)
    return np.asarray(cv2.transform(density, _HE_FROM_DENSITY))


def fold_mask(rgb: np.ndarray, tissue: np.ndarray, mpp: float) -> np.ndarray:
    """Boolean mask of folded tissue in an image at ``mpp`` µm per pixel."""
    if not tissue.any():
        return np.zeros(tissue.shape, bool)
    stains = stain_densities(rgb)
    sigma = max(0.5, FOLD_SMOOTHING_UM / mpp)
    folded = tissue.copy()
    for channel in (0, 1):  # hematoxylin, eosin
        density = stains[..., channel]
        baseline = max(float(np.median(density[tissue])), 1e-3)
        folded &= cv2.GaussianBlur(density, (0, 0), sigma) > FOLD_DENSITY_RATIO * baseline
    return remove_small(folded, max(2, round(FOLD_MIN_AREA_UM2 / (mpp * mpp))))
