"""One interface for the three methods (SPEC D3): ``fit`` on the reference once, ``fit_source``
once per slide (its stains are the same in every tile), ``transform`` per tile.

Stain methods (Macenko, Vahadane) separate each pixel into hematoxylin and eosin amounts
with the slide's own stain vectors (least squares for Macenko, sparse for Vahadane, as each
paper does), scale each amount so its 99th percentile over tissue matches the reference's
(over tissue, so a tile or thumbnail with more glass gets the same scale), and recompose
with the reference's vectors. Reinhard (Reinhard et al. 2001)
matches the mean and spread of each CIELAB channel over tissue: the simple baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from pathodesk.errors import ValidationFailedError
from pathodesk.stain.macenko import macenko_stains
from pathodesk.stain.optical import concentrations, tissue_pixels, to_density, to_rgb
from pathodesk.stain.vahadane import sparse_amounts, vahadane_stains

MAX_PERCENTILE = 99.0
MIN_TISSUE_PIXELS = 500


Separation = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (n, 3) OD, (2, 3) stains → (n, 2)


@dataclass(frozen=True)
class StainMethod:
    estimate: Callable[[np.ndarray], np.ndarray]  # (n, 3) tissue OD → (2, 3) stains
    amounts: Separation


@dataclass
class StainFit:
    stains: np.ndarray  # (2, 3) hematoxylin, eosin
    max_amounts: np.ndarray  # (2,) 99th percentile of each stain's amount over tissue
    amounts: Separation = concentrations


def stain_fit(rgb: np.ndarray, method: StainMethod) -> StainFit:
    tissue = tissue_pixels(rgb)
    if len(tissue) < MIN_TISSUE_PIXELS:
        raise ValidationFailedError("The image has too little tissue to estimate its stains.")
    stains = method.estimate(tissue)
    maxima = np.percentile(method.amounts(tissue, stains), MAX_PERCENTILE, axis=0) + 1e-6
    return StainFit(stains, maxima, method.amounts)


@dataclass
class StainNormalizer:
    """Normalises images to a reference by one ``method``."""

    method: str
    reference: StainFit | tuple[np.ndarray, np.ndarray] | None = None
    source: StainFit | tuple[np.ndarray, np.ndarray] | None = None
    _method: StainMethod | None = field(default=None, repr=False)

    def _fit(self, rgb: np.ndarray) -> StainFit | tuple[np.ndarray, np.ndarray]:
        if self.method == "reinhard":
            return lab_statistics(rgb)
        assert self._method is not None
        return stain_fit(rgb, self._method)

    def fit(self, reference_rgb: np.ndarray) -> StainNormalizer:
        self.reference = self._fit(reference_rgb)
        return self

    def fit_source(self, source_rgb: np.ndarray) -> StainNormalizer:
        self.source = self._fit(source_rgb)
        return self

    def transform(self, rgb: np.ndarray) -> np.ndarray:
        """``rgb`` in the reference's colours (its own fit is made first if none was given)."""
        if self.reference is None:
            raise ValueError("fit a reference first")
        source = self.source if self.source is not None else self._fit(rgb)
        if isinstance(self.reference, StainFit) and isinstance(source, StainFit):
            return recomposed(rgb, source, self.reference)
        assert isinstance(self.reference, tuple) and isinstance(source, tuple)
        return reinhard(rgb, source, self.reference)


def recomposed(rgb: np.ndarray, source: StainFit, reference: StainFit) -> np.ndarray:
    density = to_density(rgb).reshape(-1, 3)
    amounts = source.amounts(density, source.stains) * (reference.max_amounts / source.max_amounts)
    out = to_rgb(amounts @ reference.stains).reshape((*rgb.shape[:2], 3))
    glass = (density < 0.02).all(axis=1).reshape(rgb.shape[:2])  # glass stays as it was
    out[glass] = rgb[..., :3][glass]
    return out


def lab_statistics(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = (
        cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    )
    tissue = lab[lab[:, 0] < 230] if (lab[:, 0] < 230).sum() >= MIN_TISSUE_PIXELS else lab
    return tissue.mean(axis=0), tissue.std(axis=0) + 1e-6


def reinhard(
    rgb: np.ndarray, source: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    lab = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2LAB).astype(np.float32)
    matched = (lab - source[0]) * (reference[1] / source[1]) + reference[0]
    return cv2.cvtColor(np.clip(matched, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


METHODS: dict[str, StainMethod | None] = {
    "macenko": StainMethod(macenko_stains, concentrations),
    "vahadane": StainMethod(vahadane_stains, sparse_amounts),
    "reinhard": None,
}


def normalizer(method: str) -> StainNormalizer:
    if method not in METHODS:
        raise ValidationFailedError(
            "Unknown normalization method %(method)s (macenko, vahadane or reinhard).", method=method
        )
    return StainNormalizer(method, _method=METHODS[method])


def with_reference(method: str, stains: np.ndarray, max_amounts: np.ndarray) -> StainNormalizer:
    """A normalizer whose reference was fitted before and stored as numbers (a model file)."""
    fitted = normalizer(method)
    spec = METHODS[method]
    if spec is None:
        raise ValidationFailedError("A %(method)s reference is not stored as stain vectors.", method=method)
    fitted.reference = StainFit(
        np.asarray(stains, np.float64), np.asarray(max_amounts, np.float64), spec.amounts
    )
    return fitted
