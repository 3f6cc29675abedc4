"""Vahadane et al., "Structure-preserving color normalization and sparse stain separation
for histological images", IEEE TMI 2016: OD ≈ concentrations × stains with both
non-negative and the concentrations sparse (each pixel mostly one stain), found by
sparse non-negative matrix factorisation of tissue OD.

Solved here by alternating multiplicative updates (Lee & Seung's NMF with an L1 term on the
concentrations, as in Hoyer 2004), whole matrices at a time — no per-pixel solver, which
is where StainTools' Vahadane (SPAMS lasso per pixel) spends its time.
"""

from __future__ import annotations

import numpy as np

from pathodesk.stain.macenko import macenko_stains
from pathodesk.stain.optical import ordered_he

# λ of the L1 term: the paper's and StainTools' 0.1 is for natural-log OD; ours is log10
# (2.3 times smaller), and the L1 term scales with it
SPARSITY = 0.1 / float(np.log(10))
ITERATIONS = 100
FIT_PIXELS = 10_000


def vahadane_stains(
    tissue: np.ndarray, sparsity: float = SPARSITY, iterations: int = ITERATIONS
) -> np.ndarray:
    """(2, 3) unit stain vectors, hematoxylin first, from (n, 3) tissue OD; started from
    Macenko's vectors so the factorisation begins near the answer and keeps H and E apart."""
    stains = np.maximum(macenko_stains(tissue), 1e-3).astype(np.float64)
    if len(tissue) > FIT_PIXELS:  # the stain vectors are settled long before this many pixels
        tissue = tissue[np.random.default_rng(0).choice(len(tissue), FIT_PIXELS, replace=False)]
    data = np.maximum(tissue.astype(np.float64), 0.0)
    amounts = np.maximum(data @ np.linalg.pinv(stains), 1e-3)
    for _ in range(iterations):
        amounts *= (data @ stains.T) / (amounts @ stains @ stains.T + sparsity + 1e-9)
        stains *= (amounts.T @ data) / (amounts.T @ amounts @ stains + 1e-9)
        norms = np.maximum(np.linalg.norm(stains, axis=1, keepdims=True), 1e-9)
        stains /= norms
        amounts *= norms.T
    return ordered_he(stains)
