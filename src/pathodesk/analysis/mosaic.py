"""Ground-truth slides for the analysis (issue 7, item 4): mosaics of real labelled tiles.

A tissue-shaped area of background-class tiles (e.g. lung_n) on glass, with a tumour blob
of one tumour class (e.g. lung_aca) inside it; every tile is a real image the model never
saw (the test split of its card). The true tumour outline is the union of the tumour tiles'
squares, so the auto-annotation can be scored with Dice and IoU. Written as a pyramidal
JPEG TIFF with an mpp, like a scanner's file.

    python -m pathodesk.analysis.mosaic --tiles DIR --splits splits.csv --tumour lung_aca OUT.tiff
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from shapely.geometry import box
from shapely.ops import unary_union

from pathodesk.annotations.geometry import Outline, polygonal_part
from pathodesk.ml.model_folder import split_rows
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.raster_backend import RasterSlideReader


@dataclass(frozen=True)
class MosaicTruth:
    path: Path
    tumour_label: str | None  # None: background tissue only
    tumour: Outline | None  # level-0 pixels
    cell_px: int
    offset: int
    tumour_cells: tuple[tuple[int, int], ...] = ()  # level-0 top-left of each lesion tile


def split_images(tiles_dir: Path, splits_csv: Path, split: str = "test") -> dict[str, list[Path]]:
    """Images of one split of a model card's splits.csv, by class."""
    found: dict[str, list[Path]] = {}
    for path, label in split_rows(splits_csv, tiles_dir, split):
        found.setdefault(label, []).append(path)
    return found


def _blob(rng: np.random.Generator, rows: int, cols: int, fill: float) -> np.ndarray:
    """An irregular blob (a few overlapping ellipses) covering about ``fill`` of the grid."""
    yy, xx = np.mgrid[0:rows, 0:cols]
    mask = np.zeros((rows, cols), bool)
    cy, cx = rows * rng.uniform(0.4, 0.6), cols * rng.uniform(0.4, 0.6)
    for _ in range(3):
        ry, rx = rows * fill * rng.uniform(0.6, 1.0), cols * fill * rng.uniform(0.6, 1.0)
        oy, ox = cy + rng.uniform(-0.5, 0.5) * ry, cx + rng.uniform(-0.5, 0.5) * rx
        mask |= ((yy + 0.5 - oy) / ry) ** 2 + ((xx + 0.5 - ox) / rx) ** 2 <= 1
    return mask


def lesion_of_fraction(rng: np.random.Generator, tissue: np.ndarray, fraction: float) -> np.ndarray:
    """A compact, irregular lesion holding ``fraction`` of the tissue cells (issue 14's 2, 5
    and 10 % mosaics): the tissue cells nearest a random tissue cell, by a distance stretched
    along a random axis and roughened, so the lesion is an uneven oval, not a disc."""
    rows, cols = np.nonzero(tissue)
    count = max(1, round(fraction * len(rows)))
    centre = rng.integers(len(rows))
    dy, dx = rows - rows[centre], cols - cols[centre]
    angle, stretch = rng.uniform(0, np.pi), rng.uniform(1.0, 2.0)
    along = dx * np.cos(angle) + dy * np.sin(angle)
    across = -dx * np.sin(angle) + dy * np.cos(angle)
    distance = np.hypot(along / stretch, across) * rng.uniform(0.85, 1.15, len(rows))
    lesion = np.zeros_like(tissue)
    nearest = np.argsort(distance)[:count]
    lesion[rows[nearest], cols[nearest]] = True
    return lesion


def write_mosaic(
    out: Path,
    images: dict[str, list[Path]],
    background_label: str,
    tumour_label: str | None,
    *,
    grid: int = 16,
    cell_px: int = 224,
    offset: int = 0,
    seed: int = 0,
    mpp: float = 0.5,
    tumour_fraction: float | None = None,
) -> MosaicTruth:
    """``tumour_fraction``: the lesion's share of the tissue cells (default: a blob about a
    fifth of the grid wide)."""
    rng = np.random.default_rng(seed)
    tissue = _blob(rng, grid, grid, 0.42)
    if not tumour_label:
        tumour = np.zeros_like(tissue)
    elif tumour_fraction is not None:
        tumour = lesion_of_fraction(rng, tissue, tumour_fraction)
    else:
        tumour = _blob(rng, grid, grid, 0.2) & tissue
    size = grid * cell_px + offset
    canvas = (np.full((size, size, 3), 238, np.int16) + rng.normal(0, 3, (size, size, 1))).clip(0, 255)
    canvas = canvas.astype(np.uint8)
    pools = {name: list(rng.permutation(len(paths))) for name, paths in images.items()}
    squares = []
    for row, col in zip(*np.nonzero(tissue), strict=True):
        label = tumour_label if tumour[row, col] else background_label
        assert label is not None
        pool = pools[label] or list(rng.permutation(len(images[label])))
        pools[label] = pool
        pixels = np.asarray(Image.open(images[label][pool.pop()]).convert("RGB").resize((cell_px, cell_px)))
        y, x = offset + row * cell_px, offset + col * cell_px
        canvas[y : y + cell_px, x : x + cell_px] = pixels
        if tumour[row, col]:
            squares.append(box(x, y, x + cell_px, y + cell_px))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_pyramid(RasterSlideReader.from_array(canvas, mpp), out, mpp=mpp)
    outline = polygonal_part(unary_union(squares)) if squares else None
    cells = tuple((int(square.bounds[0]), int(square.bounds[1])) for square in squares)
    return MosaicTruth(out, tumour_label, outline, cell_px, offset, cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--tiles", type=Path, required=True, help="folder with one sub-folder per class")
    parser.add_argument("--splits", type=Path, required=True, help="a model card's splits.csv")
    parser.add_argument("--background", default="lung_n")
    parser.add_argument("--tumour", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--offset", type=int, default=0)
    args = parser.parse_args()
    images = split_images(args.tiles, args.splits)
    truth = write_mosaic(args.out, images, args.background, args.tumour, seed=args.seed, offset=args.offset)
    area = truth.tumour.area if truth.tumour is not None else 0
    summary = {"path": str(truth.path), "tumour_label": truth.tumour_label, "tumour_area_px": area}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
