"""Cascade grading (SPEC C1–C4; issue 14): look at low power, grade only what looks
suspicious at high power, as a pathologist does.

1. Low power (C1): the coarse model reads the tissue at one fine tile = 28 px (2.5× for a
   20× fine model), in windows of the tile grid with a one-tile margin, and gives every
   tissue tile of the exhaustive grid an objectness and coarse-grade probabilities. Tiles
   at or above the model's objectness threshold (set on validation canvases for 98 % lesion
   recall) form candidate regions (8-connected components), each with a box in level-0
   pixels and its coarse grade.
2. High power (C2): the fine model grades the candidates' tiles plus their neighbours (up to
   ``margin_tiles`` away) that low power found at least slightly suspicious (a second, lower
   threshold: hysteresis, as in Canny's edge linking), never the rest. The coarse grade weights the fine
   probabilities (C4): a class of a suspicious or malignant grade is multiplied by
   ``1 + boost × P(that grade)`` of its region, then renormalised.
3. Sub-tiles (C3): a tile still unsure after weighting (top probability under
   ``unsure_below``) is cut into its four quarters; each quarter is graded on its own by the
   model window centred on it, so every quarter keeps the model's field of view.
4. Merge: graded quarters go through the same clustering and outlining as the exhaustive
   analysis (A5, A6); every outline keeps its fine class and its candidate's coarse grade;
   the slide's grade is the most severe grade an outline holds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage
from shapely.geometry import Point

from pathodesk.analysis.autoannotate import FoundRegion, OutlineKind, find_regions
from pathodesk.analysis.inference import (
    TileResults,
    analysis_tile_px,
    classify_tiles,
    inference_model,
    tissue_tiles,
)
from pathodesk.analysis.overlap import cell_params
from pathodesk.analysis.params import AnalysisParams
from pathodesk.ml.coarse_train import cell_scores
from pathodesk.ml.grades import GradeScale
from pathodesk.ml.model_file import LoadedModel
from pathodesk.progress import Progress
from pathodesk.slides.base import SlideReader
from pathodesk.tissue.grid import Tile

WINDOW_TILES = 32  # tiles per low-power window edge (896 px at 28 px a tile)


@dataclass(frozen=True)
class CascadeSettings:
    objectness_threshold: float  # the coarse model's card gives it (98 % lesion recall)
    margin_threshold: float = 0.0  # a neighbour of a candidate graded too from this (card: 99.5 %)
    margin_tiles: int = 1  # how far those neighbours reach, in tiles
    unsure_below: float = 0.6  # C3: a tile under this top probability is cut into quarters
    boost: float = 1.0  # C4: how much a suspicious/malignant coarse grade lifts its classes


@dataclass(frozen=True)
class Candidate:
    """A stage-1 region: where to look at high power, and what low power thought of it."""

    box: tuple[int, int, int, int]  # level-0 x0, y0, x1, y1 of its tiles and margin
    coarse_grade: str
    probability: float  # of that grade, mean over its tiles
    objectness: float  # mean over its tiles
    tiles: int  # flagged tiles


@dataclass(frozen=True)
class GradedRegion:
    region: FoundRegion
    coarse_grade: str  # of the candidate it lies in
    fine_grade: str  # its fine class


@dataclass(frozen=True)
class CascadeOutcome:
    candidates: list[Candidate]
    results: TileResults  # graded quarters (cells of half a tile)
    regions: list[GradedRegion]
    slide_grade: str
    slide_grade_probability: float
    slide_label: str
    seconds: float
    stage_seconds: dict[str, float]
    tile_px: int
    tiles_high_res: int  # model windows graded at high power (tiles + sub-tile windows)
    tiles_exhaustive: int  # tissue tiles the exhaustive analysis grades
    tiles_read: int  # distinct tissue tiles read at high power
    sub_tiles: int  # quarters graded on their own (C3)
    objectness: np.ndarray = field(repr=False)  # per tissue tile, in the exhaustive grid's order


@dataclass(frozen=True)
class LowPower:
    objectness: np.ndarray  # (tiles,)
    grades: np.ndarray  # (tiles, coarse grades)


def low_power_scan(reader: SlideReader, tiles: Sequence[Tile], coarse: LoadedModel, tile_px: int) -> LowPower:
    """Objectness and coarse grades of every tissue tile (C1), read window by window."""
    cell = coarse.image_px
    level = reader.info.best_level_for_downsample(tile_px / cell)
    side = (WINDOW_TILES + 2) * cell  # a window and its one-tile margin, at low power
    model = inference_model(coarse, side, channels_last=False)
    objectness = np.zeros(len(tiles), np.float32)
    grades = np.zeros((len(tiles), len(coarse.labels)), np.float32)
    windows: dict[tuple[int, int], list[int]] = {}
    for index, tile in enumerate(tiles):
        key = (tile.y // tile_px // WINDOW_TILES, tile.x // tile_px // WINDOW_TILES)
        windows.setdefault(key, []).append(index)
    for (window_row, window_col), members in windows.items():
        first_row, first_col = window_row * WINDOW_TILES, window_col * WINDOW_TILES
        origin = ((first_col - 1) * tile_px, (first_row - 1) * tile_px)  # one tile of margin
        image = low_power_window(reader, level, origin, (WINDOW_TILES + 2) * tile_px, side)
        scores, grade_maps = cell_scores(model, image[None], coarse.normalization)
        for index in members:
            row = tiles[index].y // tile_px - first_row + 1
            col = tiles[index].x // tile_px - first_col + 1
            objectness[index] = scores[0, row, col]
            grades[index] = grade_maps[0, :, row, col]
    return LowPower(objectness, grades)


def low_power_window(
    reader: SlideReader, level: int, origin: tuple[int, int], span: int, side: int
) -> np.ndarray:
    """The level-0 square at ``origin``, ``span`` wide, as ``side`` px of RGB; only the part
    on the slide is read (a single-level slide would otherwise read megapixels of nothing),
    the rest is white like glass."""
    info = reader.info
    scale, per_px = info.level_downsamples[level], side / span
    (x0, y0), (width, height) = origin, info.dimensions
    left, top = max(0, x0), max(0, y0)
    right, bottom = min(width, x0 + span), min(height, y0 + span)
    window = np.full((side, side, 3), 255, np.uint8)
    if right <= left or bottom <= top:
        return window
    size = (math.ceil((right - left) / scale), math.ceil((bottom - top) / scale))
    part = reader.read_region((left, top), level, size)[..., :3]
    into = (max(1, round((right - left) * per_px)), max(1, round((bottom - top) * per_px)))
    shrunk = cv2.resize(part, into, interpolation=cv2.INTER_AREA)
    dx, dy = round((left - x0) * per_px), round((top - y0) * per_px)
    fits = window[dy : dy + into[1], dx : dx + into[0]]
    fits[...] = shrunk[: fits.shape[0], : fits.shape[1]]
    return window


def candidate_regions(
    tiles: Sequence[Tile], scan: LowPower, tile_px: int, settings: CascadeSettings, grade_names: list[str]
) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
    """Candidates, and for every tissue tile the candidate it is graded for (-1: none) and
    whether it is flagged."""
    rows = np.array([t.y // tile_px for t in tiles])
    cols = np.array([t.x // tile_px for t in tiles])
    shape = (int(rows.max()) + 1, int(cols.max()) + 1)
    tissue = np.zeros(shape, bool)
    tissue[rows, cols] = True
    flagged = scan.objectness >= settings.objectness_threshold
    grid = np.zeros(shape, bool)
    grid[rows[flagged], cols[flagged]] = True
    components, count = ndimage.label(grid, structure=np.ones((3, 3)))
    if count == 0:
        return [], np.full(len(tiles), -1), flagged
    # every tile within the margin goes to its nearest candidate
    _, (near_rows, near_cols) = ndimage.distance_transform_edt(components == 0, return_indices=True)
    nearest = components[near_rows, near_cols]
    maybe = np.zeros(shape, bool)
    maybe[rows, cols] = scan.objectness >= settings.margin_threshold
    reach = grid.copy()
    if settings.margin_tiles:  # (scipy reads 0 iterations as "until nothing changes")
        near = ndimage.binary_dilation(grid, np.ones((3, 3)), iterations=settings.margin_tiles)
        reach |= near & maybe
    reach &= tissue
    owner = np.where(reach[rows, cols], nearest[rows, cols] - 1, -1)
    candidates = []
    for number in range(count):
        own = owner == number
        seeds = own & flagged
        probabilities = scan.grades[seeds].mean(axis=0)
        best = int(probabilities.argmax())
        xs, ys = cols[own] * tile_px, rows[own] * tile_px
        candidates.append(
            Candidate(
                (int(xs.min()), int(ys.min()), int(xs.max()) + tile_px, int(ys.max()) + tile_px),
                grade_names[best],
                float(probabilities[best]),
                float(scan.objectness[seeds].mean()),
                int(seeds.sum()),
            )
        )
    return candidates, owner, flagged


def weight_by_coarse(
    fine: np.ndarray, coarse: np.ndarray, labels: list[str], scale: GradeScale, boost: float
) -> np.ndarray:
    """C4: each fine class times ``1 + boost × P(coarse grade of that class)`` where that
    grade is worse than the scale's first; rows renormalised."""
    severities = np.array([scale.severity(scale.grade_of(label)) for label in labels])
    lifted = coarse[:, severities] * (severities > 0)
    weighted = fine * (1.0 + boost * lifted)
    return (weighted / weighted.sum(axis=1, keepdims=True)).astype(np.float32)


def quarter_windows(tile: Tile, slide_size: tuple[int, int]) -> list[Tile]:
    """Four model windows, each centred on one quarter of ``tile`` (kept inside the slide)."""
    size, half = tile.size, tile.size // 2
    width, height = slide_size
    return [
        Tile(
            min(max(0, tile.x + dx * half - half // 2), width - size),
            min(max(0, tile.y + dy * half - half // 2), height - size),
            size,
            tile.tissue_fraction,
        )
        for dy in (0, 1)
        for dx in (0, 1)
    ]


def quarter_cells(tiles: Sequence[Tile]) -> list[Tile]:
    """The four quarter cells of each tile, in ``quarter_windows``' order."""
    return [
        Tile(t.x + dx * (t.size // 2), t.y + dy * (t.size // 2), t.size // 2, t.tissue_fraction)
        for t in tiles
        for dy in (0, 1)
        for dx in (0, 1)
    ]


def slide_grade(regions: Sequence[tuple[str, FoundRegion]], scale: GradeScale) -> tuple[str, float]:
    """The most severe grade an outline holds, with the outlines' area-weighted mean
    probability; the scale's first grade when nothing is outlined (its probability: 1)."""
    if not regions:
        return scale.coarse[0].name, 1.0
    worst = max(scale.severity(grade) for grade, _ in regions)
    holding = [region for grade, region in regions if scale.severity(grade) == worst]
    areas = np.array([region.outline.area for region in holding])
    probability = float(np.average([r.probability for r in holding], weights=areas))
    return scale.coarse[worst].name, probability


def cascade_slide(
    reader: SlideReader,
    coarse: LoadedModel,
    fine: LoadedModel,
    scale: GradeScale,
    params: AnalysisParams,
    settings: CascadeSettings,
    *,
    model_mpp: float | None = None,
    tile_px: int | None = None,
    outline: OutlineKind = "hull",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    give_way: Callable[[], object] | None = None,
) -> CascadeOutcome:
    inference_model(fine)  # frozen graphs are part of loading a model, not of the analysis
    inference_model(coarse, (WINDOW_TILES + 2) * coarse.image_px, channels_last=False)
    started = time.perf_counter()
    edge = analysis_tile_px(fine.image_px, model_mpp, reader.info.mpp_x, tile_px)
    edge -= edge % 2  # whole quarters
    tiles = tissue_tiles(reader, edge)
    stages = {"tissue": time.perf_counter() - started}
    if not tiles:
        return _nothing_found(scale, fine, params, edge, started, stages)
    scan = low_power_scan(reader, tiles, coarse, edge)
    candidates, owner, flagged = candidate_regions(tiles, scan, edge, settings, coarse.labels)
    stages["low_power"] = time.perf_counter() - started - sum(stages.values())
    chosen = np.flatnonzero(owner >= 0)
    graded_tiles = [tiles[i] for i in chosen]
    per_candidate = np.array(
        [scan.grades[(owner == k) & flagged].mean(axis=0) for k in range(len(candidates))]
    ).reshape(len(candidates), len(coarse.labels))
    coarse_by_label = _coarse_per_fine_grade(per_candidate[owner[chosen]], coarse.labels, scale)
    probabilities = classify_tiles(
        reader, graded_tiles, fine, edge, progress=progress, should_stop=should_stop, give_way=give_way
    )
    weighted = weight_by_coarse(probabilities, coarse_by_label, fine.labels, scale, settings.boost)
    unsure = np.flatnonzero(weighted.max(axis=1) < settings.unsure_below)
    cells = quarter_cells(graded_tiles)
    cell_probabilities = np.repeat(weighted, 4, axis=0)
    if len(unsure):
        windows = [w for i in unsure for w in quarter_windows(graded_tiles[i], reader.info.dimensions)]
        quarters = classify_tiles(reader, windows, fine, edge, should_stop=should_stop, give_way=give_way)
        lifted = weight_by_coarse(
            quarters, np.repeat(coarse_by_label[unsure], 4, axis=0), fine.labels, scale, settings.boost
        )
        for slot, i in enumerate(unsure):
            cell_probabilities[4 * i : 4 * i + 4] = lifted[4 * slot : 4 * slot + 4]
    stages["high_power"] = time.perf_counter() - started - sum(stages.values())
    results = TileResults(cells, cell_probabilities, fine.labels, edge // 2)
    found = find_regions(results, cell_params(params, 2), outline)
    cell_owner = np.repeat(owner[chosen], 4)
    regions = [_graded(region, results, cell_owner, candidates) for region in found]
    grade, probability = slide_grade([(scale.grade_of(r.fine_grade), r.region) for r in regions], scale)
    if not regions:  # benign: how sure low power was that nothing is there
        probability = float(scan.grades[:, 0].mean())
    stages["merge"] = time.perf_counter() - started - sum(stages.values())
    return CascadeOutcome(
        candidates,
        results,
        regions,
        grade,
        probability,
        regions[0].fine_grade if regions else _background(params, fine.labels),
        time.perf_counter() - started,
        {name: round(value, 3) for name, value in stages.items()},
        edge,
        len(graded_tiles) + 4 * len(unsure),
        len(tiles),
        len(graded_tiles),
        4 * len(unsure),
        scan.objectness,
    )


def _coarse_per_fine_grade(coarse: np.ndarray, grade_names: list[str], scale: GradeScale) -> np.ndarray:
    """The coarse model's grade probabilities in the order of the scale (it may know fewer)."""
    out = np.zeros((len(coarse), len(scale.coarse)), np.float32)
    for column, name in enumerate(grade_names):
        if name in scale.names:
            out[:, scale.severity(name)] = coarse[:, column]
    return out


def _graded(
    region: FoundRegion, results: TileResults, cell_owner: np.ndarray, candidates: list[Candidate]
) -> GradedRegion:
    """The region's coarse grade: that of the candidate most of its cells were graded for."""
    inside = [cell_owner[i] for i, cell in enumerate(results.tiles) if region.outline.contains(_centre(cell))]
    owner = int(np.bincount(inside).argmax()) if inside else 0
    return GradedRegion(region, candidates[owner].coarse_grade, region.label)


def _centre(tile: Tile) -> Point:
    return Point(tile.x + tile.size / 2, tile.y + tile.size / 2)


def _background(params: AnalysisParams, labels: list[str]) -> str:
    return params.background_labels[0] if params.background_labels else labels[0]


def _nothing_found(
    scale: GradeScale,
    fine: LoadedModel,
    params: AnalysisParams,
    edge: int,
    started: float,
    stages: dict[str, float],
) -> CascadeOutcome:
    return CascadeOutcome(
        [],
        TileResults([], np.zeros((0, len(fine.labels)), np.float32), fine.labels, edge // 2),
        [],
        scale.coarse[0].name,
        1.0,
        _background(params, fine.labels),
        time.perf_counter() - started,
        stages,
        edge,
        0,
        0,
        0,
        0,
        np.zeros(0, np.float32),
    )
