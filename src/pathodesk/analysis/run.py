"""One whole-slide analysis, start to end, without the database (CLI, jobs and tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pathodesk.analysis.autoannotate import FoundRegion, OutlineKind, find_regions, params_for, slide_label
from pathodesk.analysis.inference import Progress, TileResults, analysis_tile_px, classify_tiles, tissue_tiles
from pathodesk.ml.train import LoadedModel
from pathodesk.slides.base import SlideReader


@dataclass(frozen=True)
class AnalysisOutcome:
    results: TileResults
    regions: list[FoundRegion]
    slide_label: str
    seconds: float


def analyze_slide(
    reader: SlideReader,
    loaded: LoadedModel,
    disease_type: str,
    *,
    model_mpp: float | None = None,
    tile_px: int | None = None,
    outline: OutlineKind = "hull",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AnalysisOutcome:
    started = time.perf_counter()
    edge = analysis_tile_px(loaded.image_px, model_mpp, reader.info.mpp_x, tile_px)
    tiles = tissue_tiles(reader, edge)
    probabilities = classify_tiles(reader, tiles, loaded, edge, progress=progress, should_stop=should_stop)
    results = TileResults(tiles, probabilities, loaded.labels, edge)
    params = params_for(disease_type, loaded.labels)
    regions = find_regions(results, params, outline)
    return AnalysisOutcome(
        results, regions, slide_label(regions, params, loaded.labels), time.perf_counter() - started
    )
