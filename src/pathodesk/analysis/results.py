"""Keeping an analysis (issue 7, item 1–2): per-tile probabilities and per-class heatmaps on
disk next to the slide's other derived files, and the regions as AI annotations.

A new analysis replaces the previous AI outlines that no expert has touched since; outlines
an expert corrected (source = expert) are never removed by a machine.
"""

from __future__ import annotations

import io
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.analysis.run import AnalysisOutcome, outcome_summary
from pathodesk.annotations import store
from pathodesk.annotations.geometry import to_geojson
from pathodesk.annotations.labels import hex_to_rgb
from pathodesk.config import Settings
from pathodesk.db.models import Annotation, Slide, SlideStatus, TrainedModel
from pathodesk.storage import analysis_folder, existing_analysis_folder

HEATMAP_PX = 1024  # longest side


def heatmap_png(outcome: AnalysisOutcome, size: tuple[int, int], index: int, colour: str) -> bytes:
    """One class's probability per tile, in its colour, opaque where the model is sure."""
    width, height = size
    scale = max(width, height) / HEATMAP_PX if max(width, height) > HEATMAP_PX else 1.0
    out_w, out_h = max(1, round(width / scale)), max(1, round(height / scale))
    rgba = np.zeros((out_h, out_w, 4), np.uint8)
    rgba[..., :3] = hex_to_rgb(colour)
    alpha = np.zeros((out_h, out_w), np.float32)
    for tile, probability in zip(outcome.results.tiles, outcome.results.probabilities[:, index], strict=True):
        x0, y0 = round(tile.x / scale), round(tile.y / scale)
        x1, y1 = round((tile.x + tile.size) / scale), round((tile.y + tile.size) / scale)
        alpha[y0:y1, x0:x1] = probability
    rgba[..., 3] = (alpha * 200).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _write_files(
    folder: Path, outcome: AnalysisOutcome, slide: Slide, colours: dict[str, str], summary: dict[str, Any]
) -> None:
    """Staged in a sibling folder and renamed: readers see the old analysis or the new one."""
    staging = folder.with_name(f".{folder.name}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    results = outcome.results
    np.savez_compressed(
        staging / "tiles.npz",
        x=np.array([t.x for t in results.tiles], np.int64),
        y=np.array([t.y for t in results.tiles], np.int64),
        size=np.int64(results.tile_px),
        probabilities=results.probabilities,
        labels=np.array(results.labels),
    )
    for index, label in enumerate(results.labels):
        png = heatmap_png(outcome, (slide.width, slide.height), index, colours.get(label, "#ff0000"))
        (staging / f"heatmap-{label}.png").write_bytes(png)
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
    _write_files(analysis_folder(settings, slide), outcome, slide, colours, summary)
    return summary


def read_summary(settings: Settings, slide: Slide) -> dict[str, Any] | None:
    path = existing_analysis_folder(settings, slide) / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None
