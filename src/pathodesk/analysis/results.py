"""Keeping an analysis (issue 7, item 1–2): per-tile probabilities and per-class heatmaps on
disk next to the slide's other derived files, and the regions as AI annotations.

A new analysis replaces the previous AI outlines that no expert has touched since; outlines
an expert drew, corrected or restored are never removed by a machine.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.analysis.heatmap import TILES_FILE, TileProbabilities, save_tiles
from pathodesk.annotations import store
from pathodesk.config import Settings
from pathodesk.db.models import Annotation, Slide, TrainedModel
from pathodesk.storage import analysis_folder, existing_analysis_folder

if TYPE_CHECKING:  # the model stack loads with the jobs that write results, not with readers
    from pathodesk.analysis.inference import TileResults

ANALYSIS_PROPERTY = "analysis"  # in an AI outline's properties: which analysis drew it


def _write_files(folder: Path, results: TileResults, summary: dict[str, Any]) -> None:
    """Staged in a sibling folder and renamed: readers see the old analysis or the new one."""
    staging = folder.with_name(f".{folder.name}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
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


def _drawn_by_analysis(annotation: Annotation) -> bool:
    """An AI outline an analysis drew (not one imported from another tool with its own
    properties): a new analysis replaces it while no expert has touched it."""
    properties = annotation.properties
    return properties is None or ANALYSIS_PROPERTY in properties


def model_fields(model: TrainedModel, key: str = "model") -> dict[str, Any]:
    """A result's model: its name for the command line and logs, and its parts for pages,
    which show the disease type by its display name in the reader's language."""
    parts = {"disease_type": model.disease_type, "version": model.version, "arch": model.arch}
    return {key: f"{model.disease_type} v{model.version} ({model.arch})", f"{key}_parts": parts}


def replace_outlines(
    session: Session,
    settings: Settings,
    slide: Slide,
    outlines: list[tuple[store.Draft, dict[str, Any]]],
    results: TileResults,
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Swap the slide's untouched AI outlines for ``outlines`` (each a draft and its row of
    the summary), keep the summary and tile probabilities; the summary as kept."""
    store.lock_slide(session, slide)  # an expert's correction saved meanwhile is seen, and kept
    colours = store.label_colours(session, slide)
    untouched = session.scalars(
        select(Annotation).where(
            Annotation.slide_id == slide.id,
            Annotation.source == "ai",
            Annotation.edited_by_id.is_(None),
            Annotation.deleted.is_(False),
        )
    )
    for old in [a for a in untouched if _drawn_by_analysis(a)]:
        store.delete(session, slide, old, old.version, None, by="ai")
    kept = [(draft, row) for draft, row in outlines if draft.label in colours]
    created = store.create_many(session, slide, [draft for draft, _ in kept], None, repair=True)
    store.note_analysed(session, slide)  # also when it found nothing
    summary = {
        "slide_id": slide.id,
        **summary,
        "regions": [
            {"annotation_id": annotation.id, **row}
            for annotation, (_, row) in zip(created, kept, strict=True)
        ],
        "heatmaps": {label: f"/api/v1/slides/{slide.id}/heatmaps/{label}.png" for label in results.labels},
    }
    _write_files(analysis_folder(settings, slide), results, summary)
    return summary


def read_summary(settings: Settings, slide: Slide) -> dict[str, Any] | None:
    path = existing_analysis_folder(settings, slide) / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None
