"""Nuclear IHC images painted with known stain amounts (Beer–Lambert, Ruifrok's hematoxylin
and DAB): every nucleus' place and brown are known, so counts can be checked exactly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.raster_backend import RasterSlideReader
from pathodesk.stain.ihc import HEMATOXYLIN_DAB
from pathodesk.stain.optical import to_rgb

MPP = 0.5  # 20×: a nucleus of 7 µm is 14 px across

Nucleus = tuple[int, int, float]  # x, y (px), DAB optical density


def painted_nuclei(size: tuple[int, int], nuclei: list[Nucleus], mpp: float = MPP) -> np.ndarray:
    """White glass with round nuclei of 7 µm: hematoxylin 0.35 OD each, plus their DAB."""
    hematoxylin, dab = np.zeros(size, np.float32), np.zeros(size, np.float32)
    radius = round(3.5 / mpp)
    for x, y, amount in nuclei:
        cv2.circle(hematoxylin, (x, y), radius, 0.35, thickness=-1)
        cv2.circle(dab, (x, y), radius, float(amount), thickness=-1)
    density = hematoxylin[..., None] * HEMATOXYLIN_DAB[0] + dab[..., None] * HEMATOXYLIN_DAB[1]
    return to_rgb(density.astype(np.float32))


def grid(amounts: list[float], spacing: int = 40, offset: int = 30, per_row: int = 8) -> list[Nucleus]:
    return [
        (offset + (i % per_row) * spacing, offset + (i // per_row) * spacing, amount)
        for i, amount in enumerate(amounts)
    ]


def hot_spot_field(
    shape: tuple[int, int], spacing: int, cluster: tuple[int, int, int], mpp: float
) -> np.ndarray:
    """Tissue of nuclei every ``spacing`` px, 5 % of them brown, half of them brown inside the
    ``cluster`` (x, y, radius px)."""
    rng = np.random.default_rng(3)
    cx, cy, radius = cluster
    nuclei = []
    for y in range(spacing // 2, shape[0], spacing):
        for x in range(spacing // 2, shape[1], spacing):
            share = 0.5 if (x - cx) ** 2 + (y - cy) ** 2 < radius**2 else 0.05
            nuclei.append((x, y, 0.9 if rng.random() < share else 0.0))
    return painted_nuclei(shape, nuclei, mpp)


def ihc_slide(destination: Path, size: tuple[int, int], nuclei: list[Nucleus], mpp: float = MPP) -> Path:
    """A pyramidal TIFF of painted nuclei at ``mpp`` µm per px."""
    return pyramid_of(destination, painted_nuclei(size, nuclei, mpp), mpp)


def pyramid_of(destination: Path, pixels: np.ndarray, mpp: float) -> Path:
    return write_pyramid(RasterSlideReader.from_array(pixels), destination, mpp=mpp, quality=95)
