"""Keeping an analysis (issue 7, item 1–2): per-tile probabilities and per-class heatmaps on
disk next to the slide's other derived files, and the regions as AI annotations.

A new analysis replaces the previous AI outlines that no expert has touched since; outlines
an expert corrected (source = expert) are never removed by a machine.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.analysis.heatmap import TILES_FILE, TileProbabilities, save_tiles
from pathodesk.analysis.run import AnalysisOutcome, outcome_summary
from pathodesk.annotations import store
from pathodesk.annotations.geometry import to_geojson
from pathodesk.config import Settings
from pathodesk.db.models import Annotation, Slide, SlideStatus, TrainedModel
from pathodesk.storage import analysis_folder, existing_analysis_folder


def _write_files(folder: Path, outcome: AnalysisOutcome, summary: dict[str, Any]) -> None:
    """Staged in a sibling folder and renamed: readers see the old analysis or the new one."""
    staging = folder.with_name(f".{folder.name}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    results = outcome.results
    tiles = TileProbabilities(
        np.array([t.x for t in results.tiles], np.int64),
        np.array([t.y for t in results.tiles], np.int64),
        results.tile_px,
        results.probabilities,
        list(results.labels),
    )
    save_tiles(staging / TILES_FILE, tiles)  # heatmaps are drawn from it when asked for
    (staging / "summary.json").write_text(json.dumps(summary, indent=1))
    old = folder.with_name(f".{folder.name}-old-{uuid.uuid4().hex[:8]}")
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def save_analysis(
    session: Session, settings: Settings, slide: Slide, outcome: AnalysisOutcome, model: TrainedModel
) -> dict[str, Any]:
    colours = store.label_colours(session, slide)
    untouched = session.scalars(
        select(Annotation).where(
            Annotation.slide_id == slide.id,
            Annotation.source == "ai",
            Annotation.deleted.is_(False),
            Annotation.properties.is_(None),  # ours; detections imported from QuPath stay
        )
    )
    for old in untouched:
        store.delete(session, slide, old, old.version, None, by="ai")
    drafts = [
        store.Draft(region.label, to_geojson(region.outline), "polygon", "ai", round(region.probability, 4))
        for region in outcome.regions
        if region.label in colours
    ]
    created = store.create_many(session, slide, drafts, None, repair=True)
    if slide.status == SlideStatus.uploaded:  # analysed, also when it found nothing (issue 21)
        slide.status = SlideStatus.analyzed
    summary: dict[str, Any] = {
        "slide_id": slide.id,
        "model_id": model.id,
        "model": f"{model.disease_type} v{model.version} ({model.arch})",
        **outcome_summary(outcome, slide.mpp),
        "heatmaps": {
            label: f"/api/v1/slides/{slide.id}/heatmaps/{label}.png" for label in outcome.results.labels
        },
    }
    saved = [region for region in summary["regions"] if region["label"] in colours]
    summary["regions"] = [
        {"annotation_id": annotation.id, **region} for annotation, region in zip(created, saved, strict=True)
    ]
    _write_files(analysis_folder(settings, slide), outcome, summary)
    return summary


def read_summary(settings: Settings, slide: Slide) -> dict[str, Any] | None:
    path = existing_analysis_folder(settings, slide) / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None
