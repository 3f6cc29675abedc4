"""A stain-independent grey image to register on (SPEC D2 low level: background removed, grey).

Optical density (−log of transmitted light, summed over R, G, B) is high wherever any dye
is, whatever the dye: hematoxylin, eosin or DAB all make the same tissue architecture
(septa, vessels, borders) dark. Glass is set to zero so the outline of the section and its
holes, not the slide's background, carry the alignment; each image is stretched by its own
tissue percentiles so a pale IHC and a dark H&E land on the same scale.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.filters import threshold_otsu
from skimage.metrics import normalized_mutual_information

from pathodesk.tissue.morphology import closing, fill_holes, remove_small

GLASS_DENSITY = 0.08  # summed optical density of clean glass stays below this


def optical_density(rgb: np.ndarray) -> np.ndarray:
    """Summed optical density of an (H, W, 3) uint8 image."""
    transmitted = np.maximum(rgb[..., :3].astype(np.float32), 1.0) / 255.0
    return -np.log(transmitted).sum(axis=2)


def density_mask(density: np.ndarray) -> np.ndarray:
    """Tissue wherever the smoothed density rises above glass (Otsu, floored): unlike the
    saturation mask of ``tissue``, pale IHC and airy lung count as tissue too."""
    smooth = cv2.GaussianBlur(density, (0, 0), 2.0)
    threshold = threshold_otsu(smooth) if float(smooth.max() - smooth.min()) > 1e-6 else np.inf
    mask = smooth > max(min(threshold, 0.5), GLASS_DENSITY)
    return fill_holes(remove_small(closing(mask, 2), 64))


def registration_grey(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 in [0, 1] — the density stretched between glass and its 99.5th percentile —
    and the tissue mask."""
    density = optical_density(rgb)
    mask = density_mask(density)
    glass = float(np.percentile(density[~mask], 50)) if (~mask).any() else 0.0
    high = float(np.percentile(density[mask], 99.5)) if mask.any() else float(density.max())
    grey = np.clip((density - glass) / max(high - glass, 1e-6), 0, 1)
    return grey.astype(np.float32), mask


def local_normalised(grey: np.ndarray, sigma: float) -> np.ndarray:
    """Zero local mean, unit local deviation: what two stains share is where structure is,
    not how dark it is (the input of the intensity-based level)."""
    mean = cv2.GaussianBlur(grey, (0, 0), sigma)
    centred = grey - mean
    deviation = np.sqrt(cv2.GaussianBlur(centred * centred, (0, 0), sigma)) + 0.05
    return (centred / deviation).astype(np.float32)


def as_uint8(image: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    low = float(np.percentile(image, 0.5)) if low is None else low
    high = float(np.percentile(image, 99.5)) if high is None else high
    return np.clip((image - low) * 255.0 / max(high - low, 1e-6), 0, 255).astype(np.uint8)


def mutual_information(first: np.ndarray, second: np.ndarray, region: np.ndarray, bins: int = 32) -> float:
    """Normalised mutual information (Studholme et al. 1999) of two images over ``region``,
    less its floor of 1: 0 when one tells nothing of the other, 1 when it tells all. It asks
    only that one stain's density predict the other's, not that they rise together, so a
    stain that is dark where the other is pale still scores (NCC does not)."""
    if int(region.sum()) < bins:
        return 0.0
    return float(normalized_mutual_information(first[region], second[region], bins=bins)) - 1.0
