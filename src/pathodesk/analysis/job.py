"""The tile-classification job (SPEC A4–A6): a slide through its disease type's active tile
model (or a chosen one), regions saved as AI annotations (``results``)."""

from __future__ import annotations

from typing import Any

from pathodesk.analysis.params import AnalysisParams, params_from_record
from pathodesk.analysis.results import save_analysis
from pathodesk.analysis.run import analyze_slide
from pathodesk.analysis.schemas import TileAnalysisResult
from pathodesk.analysis.superres_service import SuperResolution
from pathodesk.db.models import DiseaseType, Slide, TrainedModel
from pathodesk.errors import NotFoundError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.ml import registry
from pathodesk.slides.superresolved import open_scan
from pathodesk.storage import slide_file

CLASSIFYING = N_("classifying tiles")  # followed by "done/total"; see web.i18n.translate


def model_mpp(model: TrainedModel) -> float | None:
    """The resolution the model was trained at, when its card states one."""
    spec = model.card.get("input")
    value = spec.get("mpp") if isinstance(spec, dict) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def disease_params(disease: DiseaseType | None, labels: list[str]) -> AnalysisParams:
    """The disease type's analysis parameters (its stored ones, else defaults from ``labels``)."""
    return params_from_record(disease.analysis_params if disease else None, labels)


def run_tile_analysis(context: JobContext) -> dict[str, object]:
    settings = context.settings
    with context.db.session() as session:
        slide = session.get(Slide, context.slide_id)
        if slide is None:
            raise NotFoundError("slide %(slide_id)s no longer exists", slide_id=context.slide_id)
        model_id = context.params.get("model_id")
        model = (
            session.get(TrainedModel, model_id)
            if model_id
            else registry.model_for_slide_type(session, slide.exam.disease_type, role="tile")
        )
        if model is None:
            raise NotFoundError("model %(model_id)s does not exist", model_id=model_id)
        loaded = registry.load(settings, model)
        params = disease_params(session.get(DiseaseType, slide.exam.disease_type), loaded.labels)
        path, mpp_of_model = slide_file(settings, slide), model_mpp(model)
        disease_type = slide.exam.disease_type
    context.report(0.02, N_("finding tissue"))
    reader = open_scan(path, SuperResolution(settings, context.db).enlarger(disease_type))
    try:
        outcome = analyze_slide(
            reader,
            loaded,
            params,
            model_mpp=mpp_of_model,
            tile_px=context.params.get("tile_px"),
            outline=context.params.get("outline", "hull"),
            overlap=context.params.get("overlap", 1),
            progress=lambda done, total: context.report(
                0.05 + 0.9 * done / max(1, total), f"{CLASSIFYING} {done}/{total}"
            ),
            should_stop=context.should_stop,
        )
    finally:
        reader.close()
    context.report(0.97, N_("saving outlines"))
    with context.db.session() as session:
        slide = session.get(Slide, context.slide_id)
        model = session.get(TrainedModel, model.id)
        if slide is None or model is None:
            raise NotFoundError("the slide or the model was deleted during the analysis")
        summary: dict[str, Any] = save_analysis(session, settings, slide, outcome, model)
    return TileAnalysisResult.model_validate(summary).model_dump()
