"""Over- and under-exposure: glass should be bright but not clipped, tissue not washed out."""

from __future__ import annotations

import numpy as np


def exposure_stats(rgb: np.ndarray, tissue: np.ndarray) -> dict[str, float]:
    grey = rgb[..., :3].mean(axis=2)
    glass = grey[~tissue] if (~tissue).any() else grey.reshape(-1)
    stained = grey[tissue] if tissue.any() else grey.reshape(-1)
    return {
        "glass_brightness": float(np.median(glass)),
        "tissue_brightness": float(np.median(stained)),
        "clipped_fraction": float((rgb[..., :3].min(axis=2) >= 254).mean()),
    }
