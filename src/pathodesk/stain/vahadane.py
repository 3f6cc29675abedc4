"""Vahadane et al., "Structure-preserving color normalization and sparse stain separation
for histological images", IEEE TMI 2016: OD ≈ amounts × stains with both non-negative and
the amounts sparse (each pixel mostly one stain), found by sparse non-negative dictionary
learning on tissue OD — the problem StainTools hands to SPAMS' ``trainDL`` and ``lasso``.

With only two stains the sparse code of a pixel has a closed form (both stains, or the better
of either alone), so each step of the alternation is a few whole-array operations: no
per-pixel solver, which is where StainTools spends its time.
"""

from __future__ import annotations

import numpy as np

from pathodesk.stain.macenko import macenko_stains
from pathodesk.stain.optical import ordered_he

# λ of the L1 terms: the paper's and StainTools' values (0.1 for the stains, 0.01 for the
# amounts) are for natural-log OD; ours is log10, 2.3 times smaller, and λ scales with it
STAIN_SPARSITY = 0.1 / float(np.log(10))
AMOUNT_SPARSITY = 0.01 / float(np.log(10))
MAX_ITERATIONS = 50
TOLERANCE = 1e-5
FIT_PIXELS = 10_000


def sparse_amounts(density: np.ndarray, stains: np.ndarray, sparsity: float = AMOUNT_SPARSITY) -> np.ndarray:
    """(n, 2) argmin ½‖od − a·stains‖² + λ·Σa over a ≥ 0, per pixel, for two stains (2, 3).

    The optimum uses both stains (the 2 × 2 normal equations, if both amounts come out
    positive) or only one: stain k alone, with t = od·stain_k − λ, costs ½‖od‖² − t₊²/(2‖stain_k‖²),
    so the one with the larger t₊²/‖stain_k‖² wins."""
    gram = (stains @ stains.T).astype(np.float32)
    target = density.astype(np.float32) @ stains.T.astype(np.float32) - np.float32(sparsity)
    both = target @ np.linalg.inv(gram).T
    alone = np.maximum(target, 0.0) / np.diag(gram)
    first_wins: np.ndarray = alone[:, 0] * target[:, 0] >= alone[:, 1] * target[:, 1]
    single = np.where(first_wins[:, None], alone * [1.0, 0.0], alone * [0.0, 1.0]).astype(np.float32)
    both_positive: np.ndarray = np.all(both > 0, axis=1)
    return np.where(both_positive[:, None], both, single)


def vahadane_stains(tissue: np.ndarray, sparsity: float = STAIN_SPARSITY) -> np.ndarray:
    """(2, 3) unit stain vectors, hematoxylin first, from (n, 3) tissue OD.

    Alternates the sparse amounts with a block-coordinate update of each stain (Mairal et
    al. 2010, the dictionary step of SPAMS), stains kept non-negative within the unit ball;
    started from Macenko's vectors, it settles in a few dozen steps."""
    if len(tissue) > FIT_PIXELS:  # the stain vectors are settled long before this many pixels
        tissue = tissue[np.random.default_rng(0).choice(len(tissue), FIT_PIXELS, replace=False)]
    data = np.maximum(tissue.astype(np.float64), 0.0)
    stains = np.maximum(macenko_stains(data), 1e-3)
    stains /= np.linalg.norm(stains, axis=1, keepdims=True)
    for _ in range(MAX_ITERATIONS):
        amounts = sparse_amounts(data, stains, sparsity).astype(np.float64)
        products, correlations = amounts.T @ amounts, data.T @ amounts
        previous = stains.copy()
        for k in (0, 1):
            if products[k, k] < 1e-9:
                continue
            step = (correlations[:, k] - stains.T @ products[:, k]) / products[k, k] + stains[k]
            step = np.maximum(step, 0.0)
            stains[k] = step / max(float(np.linalg.norm(step)), 1.0)
        if np.abs(stains - previous).max() < TOLERANCE:
            break
    return ordered_he(stains)
