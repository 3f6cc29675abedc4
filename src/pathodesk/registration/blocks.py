"""Matched patches: each block of the fixed section is found in the moving section (already
roughly aligned) by normalised cross-correlation of locally normalised density images.

A patch is a feature that does not depend on how a stain renders gradients — only on
where structure is — so patches match across H&E and IHC where SIFT descriptors often do
not. Each match carries its correlation and how much it stands out from the next best
place (a repetitive texture matches everywhere and is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PatchMatches:
    points: np.ndarray  # (n, 2) block centres in the fixed image, px
    shifts: np.ndarray  # (n, 2) where each is in the moving image, minus the centre
    scores: np.ndarray  # (n,) correlation at the peak

    def __len__(self) -> int:
        return len(self.points)


def subpixel_peak(surface: np.ndarray, y: int, x: int) -> tuple[float, float]:
    """Parabola through the peak and its neighbours, per axis."""

    def offset(minus: float, centre: float, plus: float) -> float:
        denominator = minus - 2 * centre + plus
        return (
            0.0 if abs(denominator) < 1e-9 else float(np.clip(0.5 * (minus - plus) / denominator, -0.5, 0.5))
        )

    height, width = surface.shape
    dx = offset(surface[y, x - 1], surface[y, x], surface[y, x + 1]) if 0 < x < width - 1 else 0.0
    dy = offset(surface[y - 1, x], surface[y, x], surface[y + 1, x]) if 0 < y < height - 1 else 0.0
    return x + dx, y + dy


def match_patches(
    fixed: np.ndarray,
    moving: np.ndarray,
    block: int,
    search: int,
    stride: int,
    min_score: float = 0.3,
    min_distinction: float = 0.05,
) -> PatchMatches:
    """Blocks of ``block`` px every ``stride`` px, each searched ±``search`` px; blocks
    without structure (glass, air) are skipped."""
    half = block // 2
    height, width = fixed.shape
    points, shifts, scores = [], [], []
    exclusion = max(2, block // 4)
    for cy in range(half + search, height - half - search, stride):
        for cx in range(half + search, width - half - search, stride):
            template = fixed[cy - half : cy + half, cx - half : cx + half]
            if float(template.std()) < 0.1:
                continue
            window = moving[cy - half - search : cy + half + search, cx - half - search : cx + half + search]
            surface = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
            _, best, _, (px, py) = cv2.minMaxLoc(surface)
            if best < min_score:
                continue
            masked = surface.copy()
            masked[
                max(0, py - exclusion) : py + exclusion + 1, max(0, px - exclusion) : px + exclusion + 1
            ] = -1
            if best - float(masked.max()) < min_distinction:
                continue
            sx, sy = subpixel_peak(surface, py, px)
            points.append((cx, cy))
            shifts.append((sx - search, sy - search))
            scores.append(best)
    return PatchMatches(
        np.asarray(points, np.float64).reshape(-1, 2),
        np.asarray(shifts, np.float64).reshape(-1, 2),
        np.asarray(scores, np.float64),
    )


def smooth_field(matches: PatchMatches, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A dense (H, W, 2) field through the matched shifts: normalised convolution (each
    match spread by a Gaussian of ``sigma`` px, weighted by its score), zero far from all."""
    height, width = shape
    values = np.zeros((height, width, 2), np.float32)
    weights = np.zeros((height, width), np.float32)
    for (x, y), (dx, dy), score in zip(
        matches.points.astype(int), matches.shifts, matches.scores, strict=True
    ):
        values[y, x] += (score * dx, score * dy)
        weights[y, x] += score
    blurred_weights = cv2.GaussianBlur(weights, (0, 0), sigma)
    field = np.dstack([cv2.GaussianBlur(values[..., axis], (0, 0), sigma) for axis in (0, 1)])
    floor = float(blurred_weights.max()) * 0.05 + 1e-12
    return (field / np.maximum(blurred_weights, floor)[..., None]).astype(np.float32)
