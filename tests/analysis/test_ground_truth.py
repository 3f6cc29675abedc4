"""Auto-annotation against known truth (issue 7, items 4–5): mosaic slides of real LC25000
test-split tiles (never seen by the shipped lung model), tumour outline known exactly.
Each slide is outlined four ways: hull or tile union, on side-by-side or half-overlapping
tiles.

Offsets move the mosaic against the analysis grid (anchored at 0,0): at 112 px every
analysis tile straddles four source tiles, the worst case. Results and pictures (truth in
green, tile-union outlines in red, the same on overlapping tiles in blue) go to
test-artifacts/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from pathodesk.analysis.mosaic import split_images, write_mosaic
from pathodesk.analysis.params import AnalysisParams
from pathodesk.analysis.run import analyze_slide
from pathodesk.ml.model_file import load_model
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.slides import open_slide, thumbnail
from tests.support.paths import ARTIFACTS

CASES = [("lung_aca", 1, 0), ("lung_scc", 2, 96), ("lung_aca", 3, 112), ("lung_scc", 5, 40), (None, 4, 0)]
# name -> (outline, overlap): overlap 2 puts tiles half a tile apart (4x the model work)
OUTLINES = {
    "hull": ("hull", 1),
    "tiles": ("tiles", 1),
    "hull_overlap2": ("hull", 2),
    "tiles_overlap2": ("tiles", 2),
}
LUNG = AnalysisParams(("lung_n",))  # the lung disease type's background class
PICTURE_COLOURS = {"tiles": (220, 0, 0), "tiles_overlap2": (0, 0, 230)}


def dice(a: BaseGeometry, b: BaseGeometry) -> float:
    return float(2 * a.intersection(b).area / (a.area + b.area))


def draw(picture: np.ndarray, geometry: BaseGeometry, scale: float, colour: tuple[int, int, int]) -> None:
    parts = getattr(geometry, "geoms", [geometry])
    for part in parts:
        ring = (np.asarray(part.exterior.coords) / scale).astype(np.int32)
        cv2.polylines(picture, [ring], True, colour, 2)


@pytest.fixture(scope="module")
def scored(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    images = split_images(shared_data / "lc25000-lung-224", SHIPPED_DIR / "lung" / "splits.csv")
    loaded = load_model(SHIPPED_DIR / "lung" / "model.pt")
    tmp = tmp_path_factory.mktemp("mosaics")
    ARTIFACTS.mkdir(exist_ok=True)
    rows = []
    for tumour, seed, offset in CASES:
        truth = write_mosaic(tmp / f"m{seed}.tiff", images, "lung_n", tumour, seed=seed, offset=offset)
        reader = open_slide(truth.path)
        picture = np.array(thumbnail(reader, 800))  # a writable copy to draw on
        scale = reader.info.dimensions[0] / picture.shape[1]
        if truth.tumour is not None:
            draw(picture, truth.tumour, scale, (0, 170, 0))
        row: dict[str, Any] = {"truth": tumour, "seed": seed, "offset": offset}
        for kind, (outline, overlap) in OUTLINES.items():
            outcome = analyze_slide(reader, loaded, LUNG, outline=outline, overlap=overlap)
            row[f"{kind}_label"] = outcome.slide_label
            mine = [r.outline for r in outcome.regions if r.label == tumour]
            if truth.tumour is not None and mine:
                found = unary_union(mine)
                row[f"{kind}_dice"] = round(dice(found, truth.tumour), 3)
                row[f"{kind}_iou"] = round(
                    found.intersection(truth.tumour).area / found.union(truth.tumour).area, 3
                )
            row[f"{kind}_regions"] = len(outcome.regions)
            for region in outcome.regions if kind in PICTURE_COLOURS else []:
                draw(picture, region.outline, scale, PICTURE_COLOURS[kind])
        picture_path = ARTIFACTS / f"analysis-mosaic-{seed}.png"
        cv2.imwrite(str(picture_path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        rows.append(row)
    (ARTIFACTS / "analysis-dice.json").write_text(json.dumps(rows, indent=1))
    print(json.dumps(rows, indent=1))
    return rows


def test_every_slide_gets_its_label(scored: list[dict[str, Any]]) -> None:
    for row in scored:
        for kind in OUTLINES:
            assert row[f"{kind}_label"] == (row["truth"] or "lung_n"), row
        if row["truth"] is None:
            assert all(row[f"{kind}_regions"] == 0 for kind in OUTLINES)  # nothing on normal tissue


def test_tumour_outlines_match_the_truth(scored: list[dict[str, Any]]) -> None:
    tumours = [row for row in scored if row["truth"]]
    tiles = [row["tiles_dice"] for row in tumours]
    hulls = [row["hull_dice"] for row in tumours]
    assert sum(tiles) / len(tiles) >= 0.85, tiles  # the target, on the tighter outline
    assert min(tiles) >= 0.8 and min(hulls) >= 0.8, (tiles, hulls)


def test_overlapping_tiles_outline_closer_to_the_truth(scored: list[dict[str, Any]]) -> None:
    """Half-tile steps halve the grid's error where the tumour front cuts through tiles."""
    tumours = [row for row in scored if row["truth"]]
    side_by_side = [row["tiles_dice"] for row in tumours]
    overlapping = [row["tiles_overlap2_dice"] for row in tumours]
    assert sum(overlapping) / len(overlapping) >= 0.9 and min(overlapping) >= 0.85, overlapping
    assert sum(overlapping) > sum(side_by_side), (overlapping, side_by_side)
