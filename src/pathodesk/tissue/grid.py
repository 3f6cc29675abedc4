"""Tile grid over the tissue (SPEC A4, B2, B7): which tiles of a slide to analyse.

The grid is anchored at (0, 0) in level-0 pixels (API.md); a tile is kept when the tissue
mask covers at least ``min_fraction`` of it, and tiles cut by the slide's right or bottom
edge are dropped (B7: edges removed). Fractions come from an integral image of the mask,
so the grid costs O(tiles), whatever the tile size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Tile:
    x: int  # level-0 pixels
    y: int
    size: int
    tissue_fraction: float


def tile_grid(
    mask: np.ndarray,
    mask_downsample: float,
    slide_size: tuple[int, int],
    tile_px: int,
    min_fraction: float = 0.5,
    drop_edges: bool = True,
    stride: int | None = None,
) -> list[Tile]:
    """Tiles of ``tile_px`` level-0 pixels whose tissue fraction is at least ``min_fraction``,
    one every ``stride`` pixels (default: side by side; less: overlapping tiles)."""
    step = stride or tile_px
    if tile_px <= 0 or step <= 0:
        raise ValueError("tile_px and stride must be positive")
    integral = cv2.integral(mask.astype(np.uint8), sdepth=cv2.CV_64F)
    height, width = mask.shape
    slide_w, slide_h = slide_size
    if drop_edges:
        columns = max(0, (slide_w - tile_px) // step + 1)
        rows = max(0, (slide_h - tile_px) // step + 1)
    else:
        columns, rows = -(-slide_w // step), -(-slide_h // step)
    kept = []
    for row in range(rows):
        for col in range(columns):
            x, y = col * step, row * step
            x0 = min(width, round(x / mask_downsample))
            y0 = min(height, round(y / mask_downsample))
            x1 = min(width, max(x0 + 1, round((x + tile_px) / mask_downsample)))
            y1 = min(height, max(y0 + 1, round((y + tile_px) / mask_downsample)))
            area = (x1 - x0) * (y1 - y0)
            if area <= 0:
                continue
            covered = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
            fraction = float(covered) / area
            if fraction >= min_fraction:
                kept.append(Tile(x, y, tile_px, fraction))
    return kept
