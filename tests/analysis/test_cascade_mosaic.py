"""Cascade grading against known truth (issue 14, item 7) with the shipped lung models, on
mosaics of LC25000 test-split tiles that none of the three models saw: stage 1's boxes cover
the lesion, the cascade agrees with the exhaustive analysis by the same fine model while
reading a fraction of the tissue, and a lesion made of ambiguous tiles sends them to the
quarter-tile fallback (C3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import Point, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from pathodesk.analysis.cascade import CascadeOutcome, CascadeSettings, cascade_slide, slide_grade
from pathodesk.analysis.mosaic import split_images, write_mosaic
from pathodesk.analysis.params import AnalysisParams
from pathodesk.analysis.run import analyze_slide
from pathodesk.ml.grades import DEFAULT_SCALES
from pathodesk.ml.model_file import LoadedModel, load_model
from pathodesk.ml.model_folder import read_card
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.slides import open_slide
from pathodesk.slides.raster_backend import RasterSlideReader

LUNG = AnalysisParams(("lung_n",))
SCALE = DEFAULT_SCALES["lung"]
TILE = 224


@pytest.fixture(scope="module")
def models() -> tuple[LoadedModel, LoadedModel, CascadeSettings]:
    card = read_card(SHIPPED_DIR / "lung-coarse")
    settings = CascadeSettings(float(card["objectness_threshold"]), float(card["margin_threshold"]))  # type: ignore[arg-type]
    return (
        load_model(SHIPPED_DIR / "lung-coarse" / "model.pt"),
        load_model(SHIPPED_DIR / "lung-fine" / "model.pt"),
        settings,
    )


def dice(found: list[BaseGeometry], truth: BaseGeometry) -> float:
    union = unary_union(found) if found else Point(0, 0).buffer(0)
    return float(2 * union.intersection(truth).area / (union.area + truth.area))


def test_boxes_cover_the_lesion_and_the_cascade_agrees_with_exhaustive(
    models: tuple[LoadedModel, LoadedModel, CascadeSettings], shared_data: Path, tmp_path: Path
) -> None:
    """Worst alignment (offset 112: every analysis tile straddles four source tiles)."""
    coarse, fine, settings = models
    images = split_images(shared_data / "lc25000-lung-224", SHIPPED_DIR / "lung" / "splits.csv")
    truth = write_mosaic(
        tmp_path / "m.tiff", images, "lung_n", "lung_aca", grid=24, seed=4, offset=112, tumour_fraction=0.1
    )
    assert truth.tumour is not None
    reader = open_slide(truth.path)
    try:
        cascade: CascadeOutcome = cascade_slide(reader, coarse, fine, SCALE, LUNG, settings)
        exhaustive = analyze_slide(reader, fine, LUNG)
    finally:
        reader.close()
    # the analysis tiles that are mostly lesion lie in the candidates' boxes
    boxes = unary_union([box(*c.box) for c in cascade.candidates])
    right, bottom = (int(v) for v in truth.tumour.bounds[2:])
    squares = [box(x, y, x + TILE, y + TILE) for y in range(0, bottom, TILE) for x in range(0, right, TILE)]
    lesion = [s for s in squares if s.intersection(truth.tumour).area > TILE * TILE / 2]  # mostly lesion
    missed = [s.bounds for s in lesion if not boxes.contains(s.centroid)]
    assert lesion and len(missed) <= 0.02 * len(lesion), missed
    assert {c.coarse_grade for c in cascade.candidates if c.tiles >= 4} == {"malignant"}
    assert cascade.tiles_read < 0.5 * cascade.tiles_exhaustive
    ours = dice([g.region.outline for g in cascade.regions], truth.tumour)
    theirs = dice([r.outline for r in exhaustive.regions], truth.tumour)
    assert ours >= theirs - 0.02 and ours > 0.7, (ours, theirs)  # worst alignment, 33 lesion tiles
    exhaustive_grade = slide_grade([(SCALE.grade_of(r.label), r) for r in exhaustive.regions], SCALE)[0]
    assert cascade.slide_grade == exhaustive_grade == "malignant"
    assert {g.fine_grade for g in cascade.regions} == {"lung_aca"}


def test_ambiguous_tiles_are_graded_quarter_by_quarter(
    models: tuple[LoadedModel, LoadedModel, CascadeSettings], shared_data: Path
) -> None:
    """A lesion of tiles half benign, half adenocarcinoma: the fine model cannot call them
    whole, so they are cut into quarters, each graded on its own (C3); with the fallback
    off, none is."""
    coarse, fine, settings = models
    images = split_images(shared_data / "lc25000-lung-224", SHIPPED_DIR / "lung" / "splits.csv")
    rng = np.random.default_rng(0)

    def tile(label: str) -> np.ndarray:
        paths = images[label]
        return np.asarray(Image.open(paths[rng.integers(len(paths))]).convert("RGB"))

    grid = 10
    pixels = np.full((grid * TILE, grid * TILE, 3), 238, np.uint8)
    for row in range(grid):
        for col in range(grid):
            pixels[row * TILE : (row + 1) * TILE, col * TILE : (col + 1) * TILE] = tile("lung_n")
            if 3 <= row < 7 and 3 <= col < 7:  # the right half of the tile is carcinoma
                pixels[row * TILE : (row + 1) * TILE, col * TILE + TILE // 2 : (col + 1) * TILE] = tile(
                    "lung_aca"
                )[:, TILE // 2 :]
    reader = RasterSlideReader.from_array(pixels, 0.5)
    with_fallback = cascade_slide(reader, coarse, fine, SCALE, LUNG, settings)
    assert with_fallback.candidates, "low power should find the half-carcinoma block"
    assert with_fallback.sub_tiles > 0 and with_fallback.sub_tiles % 4 == 0
    assert with_fallback.tiles_high_res == with_fallback.tiles_read + with_fallback.sub_tiles
    # a quarter graded on its own differs from its neighbours; copies of a whole tile would not
    quarters = with_fallback.results.probabilities.reshape(-1, 4, len(fine.labels))
    assert any(not np.allclose(group, group[0]) for group in quarters)
    without = cascade_slide(
        reader,
        coarse,
        fine,
        SCALE,
        LUNG,
        CascadeSettings(settings.objectness_threshold, settings.margin_threshold, unsure_below=0.0),
    )
    assert without.sub_tiles == 0
    copies = without.results.probabilities.reshape(-1, 4, len(fine.labels))
    assert all(np.allclose(group, group[0]) for group in copies)
