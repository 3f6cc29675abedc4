"""Nuclear IHC images painted with known stain amounts (Beer–Lambert, Ruifrok's hematoxylin
and DAB): every nucleus' place and brown are known, so counts can be checked exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.raster_backend import RasterSlideReader
from pathodesk.stain.ihc import HEMATOXYLIN_DAB
from pathodesk.stain.optical import to_rgb

MPP = 0.5  # 20×: a nucleus of 7 µm is 14 px across

Nucleus = tuple[int, int, float]  # x, y (px), DAB optical density


def painted_nuclei(size: tuple[int, int], nuclei: list[Nucleus], mpp: float = MPP) -> np.ndarray:
    """White glass with round nuclei of 7 µm: hematoxylin 0.35 OD each, plus their DAB."""
    height, width = size
    rows, columns = np.mgrid[0:height, 0:width]
    hematoxylin, dab = np.zeros(size, np.float32), np.zeros(size, np.float32)
    radius = 3.5 / mpp
    for x, y, amount in nuclei:
        disc = (columns - x) ** 2 + (rows - y) ** 2 <= radius**2
        hematoxylin[disc] = 0.35
        dab[disc] = amount
    density = hematoxylin[..., None] * HEMATOXYLIN_DAB[0] + dab[..., None] * HEMATOXYLIN_DAB[1]
    return to_rgb(density.astype(np.float32))


def grid(amounts: list[float], spacing: int = 40, offset: int = 30, per_row: int = 8) -> list[Nucleus]:
    return [
        (offset + (i % per_row) * spacing, offset + (i // per_row) * spacing, amount)
        for i, amount in enumerate(amounts)
    ]


def ihc_slide(destination: Path, size: tuple[int, int], nuclei: list[Nucleus], mpp: float = MPP) -> Path:
    """A pyramidal TIFF of painted nuclei at ``mpp`` µm per px."""
    pixels = painted_nuclei(size, nuclei, mpp)
    return write_pyramid(RasterSlideReader.from_array(pixels), destination, mpp=mpp, quality=95)
