"""Real tiles for the training tests without ../shared/data: the CMU slide (from PyPI) cut
into 128 px tiles, sorted into tissue and glass by our tissue mask; a tile's group is its 2 x 2
block (neighbouring tiles look alike)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pathodesk.slides import open_slide
from pathodesk.tissue import tissue_mask

TILE = 128


@pytest.fixture(scope="session")
def cmu_tiles(samples: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cmu-tiles")
    reader = open_slide(samples["svs"])
    pixels = reader.read_region((0, 0), 0, reader.info.dimensions)
    mask = tissue_mask(pixels, reader.info.mpp_x)
    for name in ("tissue", "glass"):
        (root / name).mkdir()
    rows = []
    for y in range(0, pixels.shape[0] - TILE + 1, TILE):
        for x in range(0, pixels.shape[1] - TILE + 1, TILE):
            share = float(mask[y : y + TILE, x : x + TILE].mean())
            kind = "tissue" if share > 0.6 else "glass" if share < 0.02 else None
            if kind:
                name = f"{kind}/y{y:05d}_x{x:05d}.png"
                Image.fromarray(np.ascontiguousarray(pixels[y : y + TILE, x : x + TILE])).save(root / name)
                rows.append(f"{name},block{y // (2 * TILE)}_{x // (2 * TILE)}")
    (root / "groups.csv").write_text("path,group\n" + "\n".join(rows) + "\n")
    return root
