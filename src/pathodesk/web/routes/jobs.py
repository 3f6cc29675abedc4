"""Analysis and background jobs over HTTP (issue 7; API.md: analyze, jobs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from pathodesk.analysis.heatmap import TILES_FILE, load_tiles, render_heatmap
from pathodesk.analysis.kinds import ANALYSIS_KINDS
from pathodesk.analysis.results import read_summary
from pathodesk.audit import record_by
from pathodesk.db.models import MAX_ID, Job, Slide, TrainedModel
from pathodesk.errors import NotFoundError, ValidationFailedError
from pathodesk.i18n import translate
from pathodesk.jobs import queue
from pathodesk.ml import registry
from pathodesk.storage import existing_analysis_folder
from pathodesk.web.access import visible_slides
from pathodesk.web.deps import CurrentUser, DbSession, RecordId, StateDep
from pathodesk.web.i18n import RequestLocale
from pathodesk.web.route_helpers import cached_image_response, start_queued, visible_exam, visible_slide
from pathodesk.web.state import Principal

router = APIRouter(prefix="/api/v1", tags=["analysis"])


class AnalyzeRequest(BaseModel):
    """An analysis mode (``analysis.kinds``: tiles, the default, or cascade) with its
    parameters (``TileAnalysisParams``, ``CascadeAnalysisParams``)."""

    model_config = ConfigDict(extra="allow")
    mode: Annotated[str, Field(max_length=32)] | None = None
    kind: Annotated[str, Field(max_length=32)] | None = None  # the earlier name of ``mode``
    model_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    priority: Annotated[int, Field(ge=-10, le=10)] = 0
    # the user waits for it: reserved workers, ahead of batch work, which gives way (E7)
    interactive: bool = False


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    slide_id: int | None
    state: str
    progress: float
    message: str | None
    error: str | None
    result: dict[str, object] | None
    attempts: int
    priority: int
    interactive: bool
    params: dict[str, object]
    worker: str | None  # which worker (machine and process) runs or ran it
    yields: int  # how often it gave way to interactive work (E7), resuming where it stopped
    parent_id: int | None  # the analysis this job is a part of (E7 split, parallel, stitch)
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def to_public(job: Job, locale: str) -> JobPublic:
    """The job as the caller reads it: its progress message in the caller's language."""
    public = JobPublic.model_validate(job)
    if public.message:
        public.message = translate(locale, public.message)
    return public


def _visible_job(session: DbSession, user: Principal, job_id: int) -> Job:
    """A job is seen through its slide (or its case: sending a case to a reading station), as
    the slide is seen (issue 20, E): starting a job grants nothing once the caller may no
    longer see the slide; jobs of neither are administrators' business."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError("job %(job_id)s does not exist", job_id=job_id)
    exam_id = (job.params or {}).get("exam_id")
    if job.slide_id is None and (user.is_admin or exam_id is None):
        if not user.is_admin:
            raise NotFoundError("job %(job_id)s does not exist", job_id=job_id)
        return job
    try:
        if job.slide_id is not None:
            visible_slide(session, user, job.slide_id)
        else:
            visible_exam(session, user, int(str(exam_id)))
    except NotFoundError:
        raise NotFoundError("job %(job_id)s does not exist", job_id=job_id) from None
    return job


@router.post("/slides/{slide_id}/analyze", status_code=202)
def analyze(
    slide_id: RecordId,
    body: AnalyzeRequest,
    user: CurrentUser,
    session: DbSession,
    state: StateDep,
    locale: RequestLocale,
) -> JobPublic:
    """Queue an analysis: tiles -> model -> clusters -> outlines (A4–A6); poll the job."""
    slide = visible_slide(session, user, slide_id)
    mode = body.mode or body.kind or "tiles"
    kind = ANALYSIS_KINDS.get(mode)
    if kind is None:
        raise ValidationFailedError(
            "unknown analysis mode %(kind)r: one of %(value)s", kind=mode, value=sorted(ANALYSIS_KINDS)
        )
    if body.model_id is not None:
        model = session.get(TrainedModel, body.model_id)
        if model is None:
            raise NotFoundError("model %(model_id)s does not exist", model_id=body.model_id)
        if model.disease_type != slide.exam.disease_type or model.role != kind.model_role:
            raise ValidationFailedError(
                "model %(id)s is a %(disease_type)s %(role)s model;"
                " this analysis needs a %(disease_type2)s %(model_role)s model",
                id=model.id,
                disease_type=model.disease_type,
                role=model.role,
                disease_type2=slide.exam.disease_type,
                model_role=kind.model_role,
            )
    roles = kind.other_roles if body.model_id is not None else (kind.model_role, *kind.other_roles)
    for role in roles:  # a missing model is said now, not as a failed job later
        registry.model_for_slide_type(session, slide.exam.disease_type, role)
    request = body.model_dump(exclude={"priority", "kind", "mode", "interactive"}, exclude_none=True)
    try:
        params = kind.params.model_validate(request).model_dump(exclude_none=True)
    except ValidationError as exc:  # the mode's own fields: answered like any body field
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    job = queue.submit(
        session,
        kind.job.name,
        slide.id,
        params,
        user_id=user.user_id,
        priority=body.priority,
        interactive=body.interactive,
    )
    record_by(session, user, "analyze", "slide", slide.id, job_id=job.id)
    start_queued(session, state)
    return to_public(job, locale)


@router.post("/slides/{slide_id}/pregenerate", status_code=202)
def pregenerate(
    slide_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep, locale: RequestLocale
) -> JobPublic:
    """High-resolution mode (E7, E8): generate a slide kept at low resolution whole, in
    advance, so a reading station reads it like a scanned slide; poll the job."""
    slide = visible_slide(session, user, slide_id)
    if slide.store_downsample == 1:
        raise ValidationFailedError(
            "slide %(slide_id)s is kept at full resolution already", slide_id=slide.id
        )
    job = queue.submit(session, "pregenerate", slide.id, {}, user_id=user.user_id)
    record_by(session, user, "pregenerate", "slide", slide.id, job_id=job.id)
    start_queued(session, state)
    return to_public(job, locale)


@router.get("/jobs")
def list_jobs(
    user: CurrentUser,
    session: DbSession,
    locale: RequestLocale,
    slide_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[JobPublic]:
    query = select(Job).where(Job.parent_id.is_(None)).order_by(Job.id.desc()).limit(200)  # parts: by id
    if slide_id is not None:
        visible_slide(session, user, slide_id)
        query = query.where(Job.slide_id == slide_id)
    if not user.is_admin:  # the jobs of slides this caller sees, as _visible_job decides
        seen = visible_slides(user).with_only_columns(Slide.id).order_by(None)
        query = query.where(Job.slide_id.in_(seen))
    return [to_public(job, locale) for job in session.scalars(query)]


@router.get("/jobs/{job_id}")
def read_job(job_id: RecordId, user: CurrentUser, session: DbSession, locale: RequestLocale) -> JobPublic:
    """State (queued, running, succeeded, failed, cancelled), progress 0–1, error, result."""
    return to_public(_visible_job(session, user, job_id), locale)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: RecordId, user: CurrentUser, session: DbSession, locale: RequestLocale) -> JobPublic:
    job = queue.cancel(session, _visible_job(session, user, job_id))
    record_by(session, user, "cancel", "job", job.id)
    return to_public(job, locale)


@router.post("/jobs/{job_id}/retry")
def retry_job(
    job_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep, locale: RequestLocale
) -> JobPublic:
    job = queue.retry(session, _visible_job(session, user, job_id))
    record_by(session, user, "retry", "job", job.id)
    start_queued(session, state)
    return to_public(job, locale)


@router.get("/slides/{slide_id}/analysis")
def read_analysis(
    slide_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep
) -> dict[str, object]:
    """The latest analysis: model, tiles, slide-level call, regions, heatmap URLs."""
    summary = read_summary(state.settings, visible_slide(session, user, slide_id))
    if summary is None:
        raise NotFoundError("slide %(slide_id)s has not been analysed", slide_id=slide_id)
    return summary


@router.get("/slides/{slide_id}/heatmaps/{name}", response_class=Response)
def heatmap(
    slide_id: RecordId,
    name: str,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    state: StateDep,
    threshold: Annotated[float, Query(ge=0, le=1)] = 0.0,
) -> Response:
    """One class's tile probabilities in viridis, as a transparent PNG over the whole slide;
    tiles below ``threshold`` are left out."""
    slide = visible_slide(session, user, slide_id)
    label = name.removesuffix(".png")
    path = existing_analysis_folder(state.settings, slide) / TILES_FILE
    summary = read_summary(state.settings, slide)
    labels = summary.get("labels", []) if summary else []
    if not name.endswith(".png") or label not in labels or not path.is_file():
        raise NotFoundError("slide %(slide_id)s has no heatmap %(value)r", slide_id=slide_id, value=name[:64])
    etag = f'"{slide.sha256[:16]}-{path.stat().st_mtime_ns}-{label[:32]}-{threshold:.3f}"'
    size = (slide.width, slide.height)
    response = cached_image_response(
        request, etag, lambda: render_heatmap(load_tiles(path), label, size, threshold), "image/png"
    )
    response.headers["Cache-Control"] = "private, no-cache"  # a new analysis replaces it
    return response
