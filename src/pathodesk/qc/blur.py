"""Blur (SPEC E2: gradient / spatial-frequency operators) per tissue tile.

Sharpness is the variance of the Laplacian divided by the tile's own grey-level variance:
dividing by contrast keeps smooth but in-focus stroma from being flagged, the most common
false alarm of raw Laplacian variance (HistoQC's users report it). The seed also names a
spatial-frequency operator: ``high_frequency_share`` is the share of the tile's spectral
energy (DC removed) above half the Nyquist frequency; a defocused tile loses it first. Both
are reported; the pass/fail threshold stays on the Laplacian, which is calibrated.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from pathodesk.tissue.grid import Tile

SHARPNESS_EPSILON = 1.0


def sharpness(rgb: np.ndarray) -> float:
    """Contrast-normalised Laplacian variance of an RGB tile (higher = sharper)."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    return float(laplacian.var() / (grey.var() + SHARPNESS_EPSILON))


HIGH_FREQUENCY_CUTOFF = 0.5  # of the Nyquist frequency


def high_frequency_share(rgb: np.ndarray) -> float:
    """Share of the spectral energy of the grey tile above ``HIGH_FREQUENCY_CUTOFF`` x Nyquist."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    power = np.abs(np.fft.rfft2(grey - grey.mean())) ** 2
    fy = np.fft.fftfreq(grey.shape[0])[:, None]  # cycles per pixel; Nyquist is 0.5
    fx = np.fft.rfftfreq(grey.shape[1])[None, :]
    high = np.hypot(fx, fy) > HIGH_FREQUENCY_CUTOFF * 0.5
    total = float(power.sum())
    return float(power[high].sum() / total) if total > 0 else 0.0


def blurred_fraction(sharpness_values: list[float], threshold: float) -> float:
    """Share of tissue tiles below the sharpness threshold (the blurred area)."""
    return float(np.mean(np.asarray(sharpness_values) < threshold))


def blur_map(tissue: np.ndarray, downsample: float, tiles: list[Tile], values: list[float]) -> np.ndarray:
    """Sharpness at every thumbnail pixel: each sampled tile gives its value to its grid cell
    and every other cell takes the value of the nearest sampled one (inf if none was)."""
    if not tiles:
        return np.full(tissue.shape, np.inf, np.float32)
    size = tiles[0].size  # level-0 pixels; the grid is anchored at (0, 0)
    height, width = tissue.shape
    rows = np.minimum((np.arange(height) * downsample // size).astype(int), int(height * downsample // size))
    cols = np.minimum((np.arange(width) * downsample // size).astype(int), int(width * downsample // size))
    grid = np.full((rows[-1] + 1, cols[-1] + 1), np.nan, np.float32)
    for tile, value in zip(tiles, values, strict=True):
        row, col = tile.y // size, tile.x // size
        if row < grid.shape[0] and col < grid.shape[1]:
            grid[row, col] = value
    nearest = ndimage.distance_transform_edt(np.isnan(grid), return_distances=False, return_indices=True)
    return np.asarray(grid[tuple(nearest)][np.ix_(rows, cols)])
