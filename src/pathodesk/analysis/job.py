"""The "analyze" job: a slide through its disease type's active model (or a chosen one)."""

from __future__ import annotations

from typing import Any

from pathodesk.analysis.inference import Cancelled
from pathodesk.analysis.results import save_analysis
from pathodesk.analysis.run import analyze_slide
from pathodesk.db.models import Slide, TrainedModel
from pathodesk.errors import NotFoundError
from pathodesk.jobs.worker import JobCancelled, JobContext
from pathodesk.ml import registry
from pathodesk.slides import open_slide

KIND = "analyze"


def model_mpp(model: TrainedModel) -> float | None:
    """The resolution the model was trained at, when its card states one."""
    spec = model.card.get("input")
    value = spec.get("mpp") if isinstance(spec, dict) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def run_analysis_job(context: JobContext) -> dict[str, object]:
    settings = context.settings
    with context.db.session() as session:
        slide = session.get(Slide, context.slide_id)
        if slide is None:
            raise NotFoundError(f"slide {context.slide_id} no longer exists")
        model_id = context.params.get("model_id")
        model = (
            session.get(TrainedModel, model_id)
            if model_id
            else registry.model_for_slide_type(session, slide.exam.disease_type)
        )
        if model is None:
            raise NotFoundError(f"model {model_id} does not exist")
        loaded = registry.load(settings, model)
        path, disease_type = settings.slides_dir / slide.path, slide.exam.disease_type
        mpp_of_model = model_mpp(model)
    context.report(0.02, "finding tissue")
    reader = open_slide(path)
    try:
        outcome = analyze_slide(
            reader,
            loaded,
            disease_type,
            model_mpp=mpp_of_model,
            tile_px=context.params.get("tile_px"),
            outline=context.params.get("outline", "hull"),
            overlap=context.params.get("overlap", 1),
            progress=lambda done, total: context.report(
                0.05 + 0.9 * done / max(1, total), f"{done}/{total} tiles"
            ),
            should_stop=context.should_stop,
        )
    except Cancelled:
        raise JobCancelled() from None
    finally:
        reader.close()
    context.report(0.97, "saving outlines")
    with context.db.session() as session:
        slide = session.get(Slide, context.slide_id)
        model = session.get(TrainedModel, model.id)
        if slide is None or model is None:
            raise NotFoundError("the slide or the model was deleted during the analysis")
        summary: dict[str, Any] = save_analysis(session, settings, slide, outcome, model)
    return summary
