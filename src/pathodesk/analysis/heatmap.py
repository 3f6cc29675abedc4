"""Probability heatmaps people can read (issue 21, item 3): one class's tile probabilities
painted in viridis (perceptually uniform, readable in greyscale and by most colour-blind
readers), transparent off the tissue and below a chosen threshold.

Rendered from the stored tile probabilities (``tiles.npz``) when asked for, so the viewer's
threshold slider is a query parameter, not a stored picture per setting.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HEATMAP_PX = 1024  # longest side
TILES_FILE = "tiles.npz"


@dataclass(frozen=True)
class TileProbabilities:
    x: np.ndarray
    y: np.ndarray
    tile_px: int
    probabilities: np.ndarray  # tiles × classes
    labels: list[str]


def save_tiles(path: Path, tiles: TileProbabilities) -> None:
    np.savez_compressed(
        path,
        x=tiles.x.astype(np.int64),
        y=tiles.y.astype(np.int64),
        size=np.int64(tiles.tile_px),
        probabilities=tiles.probabilities,
        labels=np.array(tiles.labels),
    )


def load_tiles(path: Path) -> TileProbabilities:
    with np.load(path) as stored:
        return TileProbabilities(
            stored["x"],
            stored["y"],
            int(stored["size"]),
            stored["probabilities"],
            [str(v) for v in stored["labels"]],
        )


def viridis(values: np.ndarray) -> np.ndarray:
    """RGB of probabilities in [0, 1] (OpenCV's viridis table)."""
    grey = np.clip(np.round(values * 255), 0, 255).astype(np.uint8).reshape(-1, 1)
    bgr = cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS).reshape(*np.shape(values), 3)
    return np.ascontiguousarray(bgr[..., ::-1])


def render_heatmap(
    tiles: TileProbabilities, label: str, slide_size: tuple[int, int], threshold: float = 0.0
) -> bytes:
    """A transparent PNG over the whole slide: each tile in the colour of its probability of
    ``label``, left out when below ``threshold``."""
    width, height = slide_size
    scale = max(width, height) / HEATMAP_PX if max(width, height) > HEATMAP_PX else 1.0
    out_w, out_h = max(1, round(width / scale)), max(1, round(height / scale))
    probability = np.zeros((out_h, out_w), np.float32)
    covered = np.zeros((out_h, out_w), bool)
    column = tiles.probabilities[:, tiles.labels.index(label)]
    for x, y, p in zip(tiles.x, tiles.y, column, strict=True):
        x0, y0 = round(x / scale), round(y / scale)
        x1, y1 = round((x + tiles.tile_px) / scale), round((y + tiles.tile_px) / scale)
        probability[y0:y1, x0:x1] = p
        covered[y0:y1, x0:x1] = True
    rgba = np.zeros((out_h, out_w, 4), np.uint8)
    rgba[..., :3] = viridis(probability)
    rgba[..., 3] = np.where(covered & (probability >= threshold), 255, 0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
