"""The tile-classification job (SPEC A4–A6): a slide through its disease type's active tile
model (or a chosen one), regions saved as AI annotations (``results``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from pathodesk.analysis.inference import serving_model
from pathodesk.analysis.params import AnalysisParams, params_from_record
from pathodesk.analysis.parts import run_in_parts
from pathodesk.analysis.results import model_fields, replace_outlines
from pathodesk.analysis.resumable import classify_resumable, encode_probabilities
from pathodesk.analysis.run import AnalysisOutcome, outcome_of, outcome_summary, plan_tiles
from pathodesk.analysis.schemas import TileAnalysisResult
from pathodesk.analysis.superres_service import SuperResolution
from pathodesk.annotations import store
from pathodesk.annotations.geometry import to_geojson
from pathodesk.config import Settings
from pathodesk.db.models import DiseaseType, Slide, TrainedModel
from pathodesk.errors import NotFoundError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.ml import registry
from pathodesk.ml.model_file import LoadedModel
from pathodesk.progress import Progress
from pathodesk.slides.base import SlideReader
from pathodesk.slides.superresolved import open_scan
from pathodesk.storage import slide_file
from pathodesk.tissue.grid import Tile

CLASSIFYING = N_("classifying tiles")  # followed by "done/total"; see web.i18n.translate


def save_analysis(
    session: Session, settings: Settings, slide: Slide, outcome: AnalysisOutcome, model: TrainedModel
) -> dict[str, Any]:
    """The outcome's regions as AI outlines, its summary and tile probabilities kept (``results``)."""
    summary = {"model_id": model.id, **model_fields(model), **outcome_summary(outcome, slide.mpp)}
    outlines = [
        (
            store.Draft(
                region.label, to_geojson(region.outline), "polygon", "ai", round(region.probability, 4)
            ),
            row,
        )
        for region, row in zip(outcome.regions, summary["regions"], strict=True)
    ]
    return replace_outlines(session, settings, slide, outlines, outcome.results, summary)


def model_mpp(model: TrainedModel) -> float | None:
    """The resolution the model was trained at, when its card states one."""
    spec = model.card.get("input")
    value = spec.get("mpp") if isinstance(spec, dict) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def disease_params(disease: DiseaseType | None, labels: list[str]) -> AnalysisParams:
    """The disease type's analysis parameters (its stored ones, else defaults from ``labels``)."""
    return params_from_record(disease.analysis_params if disease else None, labels)


@dataclass(frozen=True)
class _Loaded:
    loaded: LoadedModel
    model_id: int
    params: AnalysisParams
    path: Path
    model_mpp: float | None
    disease_type: str


def _load(context: JobContext, model_id: object) -> _Loaded:
    """The slide's file and the model (``model_id``, else its disease type's active one)."""
    with context.db.session() as session:
        slide = session.get(Slide, context.slide_id)
        if slide is None:
            raise NotFoundError("slide %(slide_id)s no longer exists", slide_id=context.slide_id)
        model = (
            session.get(TrainedModel, model_id)
            if model_id
            else registry.model_for_slide_type(session, slide.exam.disease_type, role="tile")
        )
        if model is None:
            raise NotFoundError("model %(model_id)s does not exist", model_id=model_id)
        loaded = registry.load(context.settings, model)
        params = disease_params(session.get(DiseaseType, slide.exam.disease_type), loaded.labels)
        disease_type = slide.exam.disease_type
        return _Loaded(
            loaded, model.id, params, slide_file(context.settings, slide), model_mpp(model), disease_type
        )


def _open(context: JobContext, job: _Loaded) -> SlideReader:
    return open_scan(job.path, SuperResolution(context.settings, context.db).enlarger(job.disease_type))


def _reporter(context: JobContext) -> Progress:
    return lambda done, total: context.report(
        0.05 + 0.9 * done / max(1, total), f"{CLASSIFYING} {done}/{total}"
    )


def run_tile_analysis(context: JobContext) -> dict[str, object]:
    settings = context.settings
    job = _load(context, context.params.get("model_id"))
    context.report(0.02, N_("finding tissue"))
    reader = _open(context, job)
    try:
        serving_model(job.loaded)
        started = time.perf_counter()
        plan = plan_tiles(
            reader,
            job.loaded,
            model_mpp=job.model_mpp,
            tile_px=context.params.get("tile_px"),
            overlap=context.params.get("overlap", 1),
        )
        workers: list[str] = []
        if settings.part_tiles and len(plan.tiles) > settings.part_tiles:  # E7: over all workers
            parts = run_in_parts(
                context, plan, job.model_id, settings.part_tiles, run_analysis_part, _reporter(context)
            )
            probabilities, workers = parts.probabilities, parts.workers
        else:
            probabilities, _ = classify_resumable(
                context, reader, plan.tiles, job.loaded, plan.edge, plan.stride, _reporter(context)
            )
        outline = context.params.get("outline", "hull")
        seconds = time.perf_counter() - started
        outcome = outcome_of(plan, probabilities, job.loaded, job.params, outline, seconds, workers)
    finally:
        reader.close()
    context.report(0.97, N_("saving outlines"))
    with context.db.session() as session:
        slide = session.get(Slide, context.slide_id)
        model = session.get(TrainedModel, job.model_id)
        if slide is None or model is None:
            raise NotFoundError("the slide or the model was deleted during the analysis")
        summary: dict[str, Any] = save_analysis(session, settings, slide, outcome, model)
    return TileAnalysisResult.model_validate(summary).model_dump()


def run_analysis_part(context: JobContext) -> dict[str, object]:
    """One part of a split analysis (``analysis.parts``): its tiles' probabilities."""
    job = _load(context, context.params["model_id"])
    edge, stride = int(context.params["edge"]), int(context.params["stride"])
    tiles = [Tile(int(x), int(y), edge, 1.0) for x, y in context.params["tiles"]]
    reader = _open(context, job)
    try:
        probabilities, _ = classify_resumable(
            context, reader, tiles, job.loaded, edge, stride, _reporter(context)
        )
    finally:
        reader.close()
    return encode_probabilities(probabilities)
