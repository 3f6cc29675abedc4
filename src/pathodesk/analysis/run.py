"""One whole-slide analysis, start to end, without the database (CLI, jobs and tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pathodesk.analysis.autoannotate import FoundRegion, OutlineKind, find_regions, slide_label
from pathodesk.analysis.inference import (
    TileResults,
    analysis_tile_px,
    classify_tiles,
    serving_model,
    tissue_tiles,
)
from pathodesk.analysis.overlap import cell_params, cell_results
from pathodesk.analysis.params import AnalysisParams
from pathodesk.ml.model_file import LoadedModel
from pathodesk.progress import Progress
from pathodesk.slides.base import SlideReader
from pathodesk.tissue.grid import Tile


@dataclass(frozen=True)
class AnalysisOutcome:
    results: TileResults  # per cell: the tiles themselves unless they overlap
    regions: list[FoundRegion]
    slide_label: str
    seconds: float
    tile_px: int  # level-0 edge of what the model saw
    tiles: int  # how many tiles it classified
    overlap: int
    part_workers: tuple[str, ...] = ()  # E7 split: the workers that ran its parts (none: one run)


@dataclass(frozen=True)
class TilePlan:
    """The tiles of a slide an analysis classifies: the same for every run on the same slide
    and model, so a resumed run or the parts of a split one line up with it."""

    tiles: list[Tile]
    edge: int  # level-0 edge of what the model sees
    stride: int
    overlap: int


def plan_tiles(
    reader: SlideReader,
    loaded: LoadedModel,
    *,
    model_mpp: float | None = None,
    tile_px: int | None = None,
    overlap: int = 1,
) -> TilePlan:
    edge = analysis_tile_px(loaded.image_px, model_mpp, reader.info.mpp_x, tile_px)
    edge -= edge % overlap  # whole cells per tile
    stride = edge // overlap
    return TilePlan(tissue_tiles(reader, edge, stride=stride), edge, stride, overlap)


def outcome_of(
    plan: TilePlan,
    probabilities: np.ndarray,
    loaded: LoadedModel,
    params: AnalysisParams,
    outline: OutlineKind,
    seconds: float,
    part_workers: list[str] | None = None,
) -> AnalysisOutcome:
    """Regions and the slide's label from every tile's probabilities, however they were
    classified (one run, a resumed one or ``part_workers`` running its parts)."""
    results = cell_results(TileResults(plan.tiles, probabilities, loaded.labels, plan.edge), plan.overlap)
    regions = find_regions(results, cell_params(params, plan.overlap), outline)
    return AnalysisOutcome(
        results,
        regions,
        slide_label(regions, params, loaded.labels),
        seconds,
        plan.edge,
        len(plan.tiles),
        plan.overlap,
        tuple(part_workers or ()),
    )


def analyze_slide(
    reader: SlideReader,
    loaded: LoadedModel,
    params: AnalysisParams,
    *,
    model_mpp: float | None = None,
    tile_px: int | None = None,
    outline: OutlineKind = "hull",
    overlap: int = 1,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AnalysisOutcome:
    """``params`` are the disease type's (``analysis.params``); ``overlap`` k > 1 places tiles
    1/k of a tile apart and outlines at that finer step."""
    serving_model(loaded)  # the frozen graph (or int8 variant) is part of loading the model
    started = time.perf_counter()
    plan = plan_tiles(reader, loaded, model_mpp=model_mpp, tile_px=tile_px, overlap=overlap)
    probabilities = classify_tiles(
        reader,
        plan.tiles,
        loaded,
        plan.edge,
        stride=plan.stride,
        progress=progress,
        should_stop=should_stop,
    )
    return outcome_of(plan, probabilities, loaded, params, outline, time.perf_counter() - started)


def outcome_summary(outcome: AnalysisOutcome, mpp: float | None) -> dict[str, Any]:
    """What the CLI prints and the server keeps; a region's ``tiles`` counts grid cells
    (``cell_px`` wide: the tiles themselves unless they overlap)."""
    return {
        "mode": "tiles",
        "tile_px": outcome.tile_px,
        "tiles": outcome.tiles,
        "overlap": outcome.overlap,
        "cell_px": outcome.results.tile_px,
        "slide_label": outcome.slide_label,
        "seconds": round(outcome.seconds, 2),
        "parts": len(outcome.part_workers) or 1,
        "part_workers": sorted(set(outcome.part_workers)),
        "labels": outcome.results.labels,
        "regions": [
            {
                "label": r.label,
                "probability": round(r.probability, 4),
                "std": round(r.std, 4),
                "tiles": r.tile_count,
                "area_um2": round(r.outline.area * mpp * mpp, 1) if mpp else None,
            }
            for r in outcome.regions
        ],
    }
