"""Cascade grading's parts (SPEC C1–C4; issue 14, item 7), on made-up maps: candidates from
the low-power map, the coarse grade's weighting (C4), quarters for unsure tiles (C3), the
slide grade, and the grade scales (C1's Bethesda mapping)."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from pathodesk.analysis.autoannotate import FoundRegion
from pathodesk.analysis.cascade import (
    CascadeSettings,
    LowPower,
    candidate_regions,
    low_power_window,
    quarter_cells,
    quarter_windows,
    slide_grade,
    weight_by_coarse,
)
from pathodesk.errors import ValidationFailedError
from pathodesk.ml.grades import DEFAULT_SCALES, disease_scale, scale_from_record
from pathodesk.slides.raster_backend import RasterSlideReader
from pathodesk.tissue.grid import Tile

LUNG = DEFAULT_SCALES["lung"]
THYROID = DEFAULT_SCALES["thyroid"]
LABELS = ["lung_aca", "lung_n", "lung_scc"]


def test_a_malignant_coarse_grade_lifts_the_malignant_classes() -> None:
    """C4: the fine model leans benign (0.55), low power is sure it is malignant (0.9): the
    weighted call turns malignant; with a benign coarse grade it stays benign."""
    fine = np.array([[0.45, 0.55, 0.0]], np.float32)
    malignant = weight_by_coarse(fine, np.array([[0.1, 0.9]]), LABELS, LUNG, boost=1.0)
    benign = weight_by_coarse(fine, np.array([[0.9, 0.1]]), LABELS, LUNG, boost=1.0)
    assert LABELS[int(fine.argmax())] == "lung_n"
    assert LABELS[int(malignant.argmax())] == "lung_aca"
    assert LABELS[int(benign.argmax())] == "lung_n"
    assert malignant.sum() == pytest.approx(1.0) and benign.sum() == pytest.approx(1.0)
    assert malignant[0, 0] > fine[0, 0] and benign[0, 1] > 0.5
    # no boost: the fine model decides alone
    np.testing.assert_allclose(weight_by_coarse(fine, np.array([[0.1, 0.9]]), LABELS, LUNG, 0.0), fine)


def test_thyroid_weighting_lifts_each_class_by_its_own_grade() -> None:
    """Suspicious (Bethesda IV) lifts FTC, malignant (VI) lifts PTC, benign lifts nothing."""
    labels = ["BN", "FTC", "PTC"]
    fine = np.full((1, 3), 1 / 3, np.float32)
    suspicious = weight_by_coarse(fine, np.array([[0.0, 1.0, 0.0]]), labels, THYROID, 1.0)
    malignant = weight_by_coarse(fine, np.array([[0.0, 0.0, 1.0]]), labels, THYROID, 1.0)
    assert labels[int(suspicious.argmax())] == "FTC"
    assert labels[int(malignant.argmax())] == "PTC"


def _grid_tiles(rows: int, cols: int, size: int) -> list[Tile]:
    return [Tile(c * size, r * size, size, 1.0) for r in range(rows) for c in range(cols)]


def test_candidates_are_connected_flagged_tiles_with_a_margin() -> None:
    """Two separate flagged blobs on a 10 x 10 tissue grid: two candidates, each box the
    flagged tiles plus one tile around them (level-0 px), its own coarse grade; tiles far
    from both are never graded."""
    size = 100
    tiles = _grid_tiles(10, 10, size)
    objectness = np.zeros(100, np.float32)
    grades = np.tile(np.array([[0.9, 0.1]], np.float32), (100, 1))
    for r, c in [(2, 2), (2, 3), (3, 2)]:  # an L of three tiles, malignant
        objectness[r * 10 + c] = 0.9
        grades[r * 10 + c] = (0.2, 0.8)
    objectness[8 * 10 + 8] = 0.7  # one tile, grade left benign
    candidates, owner, flagged = candidate_regions(
        tiles, LowPower(objectness, grades), size, CascadeSettings(0.5, margin_tiles=1), LUNG.names
    )
    assert flagged.sum() == 4
    by_size = sorted(candidates, key=lambda c: -c.tiles)
    assert [c.tiles for c in by_size] == [3, 1]
    assert by_size[0].box == (100, 100, 500, 500)  # rows/cols 1..4
    assert by_size[0].coarse_grade == "malignant" and by_size[0].probability == pytest.approx(0.8)
    assert by_size[1].box == (700, 700, 1000, 1000)  # clipped to the tissue grid
    assert by_size[1].coarse_grade == "benign"
    graded = owner >= 0
    assert graded.sum() == 15 + 9  # the L and its ring (not the far corner (4, 4)); 3 x 3
    assert owner[0] == -1 and owner[5 * 10 + 5] == -1


def test_without_margin_only_flagged_tiles_are_graded() -> None:
    tiles = _grid_tiles(4, 4, 50)
    objectness = np.zeros(16, np.float32)
    objectness[5] = objectness[10] = 0.99  # diagonal neighbours: one 8-connected candidate
    grades = np.full((16, 2), 0.5, np.float32)
    candidates, owner, _ = candidate_regions(
        tiles, LowPower(objectness, grades), 50, CascadeSettings(0.5, margin_tiles=0), LUNG.names
    )
    assert len(candidates) == 1 and candidates[0].box == (50, 50, 150, 150)
    assert sorted(np.flatnonzero(owner >= 0).tolist()) == [5, 10]


def test_only_somewhat_suspicious_neighbours_are_graded_with_a_candidate() -> None:
    """Hysteresis: around a flagged tile, a neighbour at 0.3 (above the margin threshold) is
    graded, one at 0.05 is not; a 0.3 tile away from any candidate is not either."""
    tiles = _grid_tiles(5, 5, 10)
    objectness = np.full(25, 0.05, np.float32)
    objectness[12] = 0.9  # the centre
    objectness[13] = 0.3  # its right neighbour
    objectness[0] = 0.3  # a corner, two tiles away
    grades = np.full((25, 2), 0.5, np.float32)
    settings = CascadeSettings(0.5, margin_threshold=0.2, margin_tiles=1)
    candidates, owner, _ = candidate_regions(tiles, LowPower(objectness, grades), 10, settings, LUNG.names)
    assert len(candidates) == 1 and candidates[0].tiles == 1
    assert sorted(np.flatnonzero(owner >= 0).tolist()) == [12, 13]
    assert candidates[0].box == (20, 20, 40, 30)


def test_nothing_flagged_means_no_candidate() -> None:
    tiles = _grid_tiles(3, 3, 10)
    low = LowPower(np.zeros(9, np.float32), np.full((9, 2), 0.5, np.float32))
    candidates, owner, _ = candidate_regions(tiles, low, 10, CascadeSettings(0.5), LUNG.names)
    assert candidates == [] and (owner == -1).all()


def test_quarters_keep_the_models_field_of_view_and_stay_on_the_slide() -> None:
    """C3: each quarter of a tile is graded by a full-size window centred on it."""
    tile = Tile(200, 400, 224, 1.0)
    windows = quarter_windows(tile, (10_000, 10_000))
    cells = quarter_cells([tile])
    assert all(w.size == 224 for w in windows) and all(c.size == 112 for c in cells)
    for window, cell in zip(windows, cells, strict=True):
        assert window.x + 112 == cell.x + 56 and window.y + 112 == cell.y + 56  # same centre
    corner = quarter_windows(Tile(0, 0, 224, 1.0), (300, 300))
    assert min(w.x for w in corner) == 0 and max(w.x + w.size for w in corner) <= 300


def test_alow_power_window_reads_only_the_slide_and_is_glass_elsewhere() -> None:
    """A window hanging over the slide's top-left corner: the slide's pixels land where they
    belong, shrunk 8x, and the rest is white."""
    pixels = np.zeros((400, 600, 3), np.uint8)
    pixels[:, :, 0] = 200  # a red slide
    pixels[0:80, 0:80] = (0, 0, 200)  # with a blue corner
    reader = RasterSlideReader.from_array(pixels, 0.5)
    window = low_power_window(reader, 0, (-160, -160), 1600, 200)  # 8 level-0 px per pixel
    assert window.shape == (200, 200, 3)
    assert (window[:20, :] == 255).all() and (window[:, :20] == 255).all()  # glass before the slide
    assert tuple(window[25, 25]) == (0, 0, 200)  # the blue corner at (160..240) / 8
    assert tuple(window[40, 60]) == (200, 0, 0)
    assert (window[71:, :] == 255).all() and (window[:, 96:] == 255).all()  # and after it
    assert (low_power_window(reader, 0, (5000, 5000), 800, 100) == 255).all()  # off the slide


def _region(label: str, side: float, probability: float) -> FoundRegion:
    return FoundRegion(label, probability, 0.05, 4, box(0, 0, side, side))


def test_the_slide_takes_the_most_severe_grade_held() -> None:
    """A small PTC focus in a slide of benign and follicular regions makes it Bethesda VI."""
    regions = [
        ("benign", _region("BN", 1000, 0.9)),
        ("suspicious", _region("FTC", 500, 0.8)),
        ("malignant", _region("PTC", 100, 0.7)),
        ("malignant", _region("PTC", 300, 0.9)),
    ]
    grade, probability = slide_grade(regions, THYROID)
    assert grade == "malignant"
    assert probability == pytest.approx((0.7 * 100**2 + 0.9 * 300**2) / (100**2 + 300**2))
    assert slide_grade([], THYROID) == ("benign", 1.0)


def test_grade_scales_follow_bethesda_and_survive_storage() -> None:
    assert [(g.name, g.bethesda) for g in THYROID.coarse] == [
        ("benign", "II"),
        ("suspicious", "IV"),
        ("malignant", "VI"),
    ]
    assert [THYROID.grade_of(x) for x in ("BN", "FTC", "PTC")] == ["benign", "suspicious", "malignant"]
    assert LUNG.grade_of("lung_scc") == "malignant" and LUNG.grade_of("unknown") == "benign"
    assert scale_from_record(THYROID.as_record()) == THYROID
    derived = disease_scale("kidney", None, ["normal", "ccrcc"], ["normal"])
    assert derived.names == ["benign", "malignant"] and derived.grade_of("ccrcc") == "malignant"
    for broken in ({"coarse": []}, {"coarse": [{"name": "a"}], "fine": {}}, {"fine": {"x": "nope"}}):
        with pytest.raises(ValidationFailedError):
            scale_from_record(broken)
