"""The cascade job (SPEC C1–C4; issue 14, item 4): a slide through its disease type's active
coarse and fine models; outlines saved as AI annotations with their coarse and fine grade,
candidate boxes and the slide grade in the analysis summary."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pathodesk.analysis.cascade import CascadeOutcome, CascadeSettings, cascade_slide
from pathodesk.analysis.job import CLASSIFYING, disease_params, model_mpp
from pathodesk.analysis.results import ANALYSIS_PROPERTY, model_fields, replace_outlines
from pathodesk.analysis.schemas import CascadeAnalysisResult
from pathodesk.analysis.superres_service import SuperResolution
from pathodesk.annotations import store
from pathodesk.annotations.geometry import to_geojson
from pathodesk.config import Settings
from pathodesk.db.models import DiseaseType, Slide, TrainedModel
from pathodesk.errors import NotFoundError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.ml import registry
from pathodesk.ml.grades import GradeScale, disease_scale
from pathodesk.ml.model_file import LoadedModel
from pathodesk.slides.superresolved import open_scan
from pathodesk.storage import slide_file


def grade_scale(disease: DiseaseType | None, labels: list[str], background: tuple[str, ...]) -> GradeScale:
    if disease is None:
        return disease_scale("", None, labels, background)
    return disease_scale(disease.name, disease.grading, labels, background)


def cascade_settings(coarse: TrainedModel, params: dict[str, Any]) -> CascadeSettings:
    threshold = params.get("objectness_threshold") or coarse.card.get("objectness_threshold")
    if not isinstance(threshold, int | float):
        threshold = 0.5  # a coarse model registered without a threshold on its card
    margin = coarse.card.get("margin_threshold")
    chosen = {
        name: params[name]
        for name in ("margin_threshold", "margin_tiles", "unsure_below", "boost")
        if params.get(name) is not None
    }
    if isinstance(margin, int | float):
        chosen.setdefault("margin_threshold", float(margin))
    return CascadeSettings(float(threshold), **chosen)


def cascade_summary(outcome: CascadeOutcome, mpp: float | None, scale: GradeScale) -> dict[str, Any]:
    """What the CLI prints and the server keeps (``CascadeAnalysisResult``)."""
    return {
        "mode": "cascade",
        "grades": [{"name": g.name, "bethesda": g.bethesda} for g in scale.coarse],
        "tile_px": outcome.tile_px,
        "cell_px": outcome.results.tile_px,
        "seconds": round(outcome.seconds, 3),
        "stage_seconds": outcome.stage_seconds,
        "tiles_high_res": outcome.tiles_high_res,
        "tiles_exhaustive": outcome.tiles_exhaustive,
        "tiles_read": outcome.tiles_read,
        "sub_tiles": outcome.sub_tiles,
        "high_res_fraction": round(outcome.tiles_read / max(1, outcome.tiles_exhaustive), 4),
        "slide_grade": outcome.slide_grade,
        "slide_grade_probability": round(outcome.slide_grade_probability, 4),
        "slide_label": outcome.slide_label,
        "labels": outcome.results.labels,
        "candidates": [
            {
                "box": list(c.box),
                "coarse_grade": c.coarse_grade,
                "probability": round(c.probability, 4),
                "objectness": round(c.objectness, 4),
                "tiles": c.tiles,
            }
            for c in outcome.candidates
        ],
        "regions": [
            {
                "label": r.region.label,
                "probability": round(r.region.probability, 4),
                "std": round(r.region.std, 4),
                "tiles": r.region.tile_count,
                "area_um2": round(r.region.outline.area * mpp * mpp, 1) if mpp else None,
                "coarse_grade": r.coarse_grade,
                "fine_grade": r.fine_grade,
            }
            for r in outcome.regions
        ],
    }


def save_cascade(
    session: Session,
    settings: Settings,
    slide: Slide,
    outcome: CascadeOutcome,
    scale: GradeScale,
    fine: TrainedModel,
    coarse: TrainedModel,
) -> dict[str, Any]:
    summary = {
        "model_id": fine.id,
        **model_fields(fine),
        "coarse_model_id": coarse.id,
        **model_fields(coarse, "coarse_model"),
        **cascade_summary(outcome, slide.mpp, scale),
    }
    outlines = [
        (
            store.Draft(
                graded.region.label,
                to_geojson(graded.region.outline),
                "polygon",
                "ai",
                round(graded.region.probability, 4),
                properties={
                    ANALYSIS_PROPERTY: "cascade",
                    "coarse_grade": graded.coarse_grade,
                    "fine_grade": graded.fine_grade,
                },
            ),
            row,
        )
        for graded, row in zip(outcome.regions, summary["regions"], strict=True)
    ]
    return replace_outlines(session, settings, slide, outlines, outcome.results, summary)


def cascade_models(
    session: Session, settings: Settings, disease_type: str, fine_id: int | None = None
) -> tuple[TrainedModel, LoadedModel, TrainedModel, LoadedModel]:
    fine = (
        session.get(TrainedModel, fine_id)
        if fine_id
        else registry.model_for_slide_type(session, disease_type, role="fine")
    )
    if fine is None:
        raise NotFoundError("model %(model_id)s does not exist", model_id=fine_id)
    coarse = registry.model_for_slide_type(session, disease_type, role="coarse")
    return fine, registry.load(settings, fine), coarse, registry.load(settings, coarse)


def run_cascade_analysis(context: JobContext) -> dict[str, object]:
    settings = context.settings
    with context.db.session() as session:
        slide = session.get(Slide, context.slide_id)
        if slide is None:
            raise NotFoundError("slide %(slide_id)s no longer exists", slide_id=context.slide_id)
        disease_type = slide.exam.disease_type
        fine, fine_loaded, coarse, coarse_loaded = cascade_models(
            session, settings, disease_type, context.params.get("model_id")
        )
        disease = session.get(DiseaseType, disease_type)
        params = disease_params(disease, fine_loaded.labels)
        scale = grade_scale(disease, fine_loaded.labels, params.background_labels)
        chosen = cascade_settings(coarse, context.params)
        path, mpp_of_model, fine_id, coarse_id = (
            slide_file(settings, slide),
            model_mpp(fine),
            fine.id,
            coarse.id,
        )
    context.report(0.02, N_("looking at low power"))
    reader = open_scan(path, SuperResolution(settings, context.db).enlarger(disease_type))
    try:
        outcome = cascade_slide(
            reader,
            coarse_loaded,
            fine_loaded,
            scale,
            params,
            chosen,
            model_mpp=mpp_of_model,
            tile_px=context.params.get("tile_px"),
            outline=context.params.get("outline", "hull"),
            progress=lambda done, total: context.report(
                0.1 + 0.85 * done / max(1, total), f"{CLASSIFYING} {done}/{total}"
            ),
            should_stop=context.should_stop,
            give_way=context.give_way_to_viewers,
        )
    finally:
        reader.close()
    context.report(0.97, N_("saving outlines"))
    with context.db.session() as session:
        slide = session.get(Slide, context.slide_id)
        fine_model, coarse_model = session.get(TrainedModel, fine_id), session.get(TrainedModel, coarse_id)
        if slide is None or fine_model is None or coarse_model is None:
            raise NotFoundError("the slide or the model was deleted during the analysis")
        summary = save_cascade(session, settings, slide, outcome, scale, fine_model, coarse_model)
    return CascadeAnalysisResult.model_validate(summary).model_dump()
