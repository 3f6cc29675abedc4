"""Beer–Lambert: light absorbed by stain, optical density OD = −log10(I / I₀), is additive
across stains, so a pixel's OD is a stain matrix times its stain concentrations."""

from __future__ import annotations

import numpy as np

LIGHT = 255.0  # I₀, the brightness of glass
TISSUE_DENSITY = 0.15  # a pixel with less OD than this in every channel is glass (Macenko's β)


def to_density(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) float32 OD of uint8 RGB."""
    return (-np.log10(np.maximum(rgb[..., :3].astype(np.float32), 1.0) / LIGHT)).astype(np.float32)


def to_rgb(density: np.ndarray) -> np.ndarray:
    return np.clip(LIGHT * np.power(10.0, -density), 0, 255).astype(np.uint8)


def tissue_pixels(rgb: np.ndarray, limit: int = 50_000, seed: int = 0) -> np.ndarray:
    """(n, 3) OD of tissue pixels (any channel above ``TISSUE_DENSITY``), at most ``limit``
    drawn evenly at random: a slide's stain is the same in every part of it."""
    density = to_density(rgb).reshape(-1, 3)
    tissue = density[(density > TISSUE_DENSITY).any(axis=1) & (density < 3.0).all(axis=1)]
    if len(tissue) > limit:
        tissue = tissue[np.random.default_rng(seed).choice(len(tissue), limit, replace=False)]
    return tissue


def ordered_he(stains: np.ndarray) -> np.ndarray:
    """Stain rows (2, 3) as hematoxylin then eosin: hematoxylin absorbs more red light."""
    stains = stains / np.maximum(np.linalg.norm(stains, axis=1, keepdims=True), 1e-9)
    return stains if stains[0, 0] >= stains[1, 0] else stains[::-1].copy()


def concentrations(density: np.ndarray, stains: np.ndarray) -> np.ndarray:
    """(n, 2) stain amounts of (n, 3) OD for stains (2, 3): least squares, clipped at zero
    (one 2 × 3 pseudo-inverse for every pixel: vectorised, no per-pixel solver)."""
    return np.maximum(density @ np.linalg.pinv(stains), 0.0).astype(np.float32)
