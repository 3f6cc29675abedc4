"""Nuclear IHC counts over HTTP: the Ki-67 index (and H-score) of a region drawn on a slide,
counted by a job (``analysis.ihc_job``) and read back with every nucleus for the viewer.

Everyone who may see a slide may count in its regions, as they may draw them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from pathodesk.analysis.ihc_job import hot_spot_outline, last_ihc_score, plan_region
from pathodesk.analysis.job_names import IHC_KIND
from pathodesk.annotations import store
from pathodesk.annotations.query import feature
from pathodesk.audit import record_by
from pathodesk.i18n import N_, translate
from pathodesk.jobs import queue
from pathodesk.stain.ihc import INTENSITY_THRESHOLDS
from pathodesk.web.deps import CurrentUser, DbSession, RecordId, StateDep
from pathodesk.web.i18n import RequestLocale
from pathodesk.web.route_helpers import start_queued, visible_annotation, visible_slide
from pathodesk.web.routes.annotations import json_response
from pathodesk.web.routes.jobs import JobPublic, to_public

router = APIRouter(prefix="/api/v1", tags=["nuclear IHC"])
HOT_SPOT_NAME = N_("Ki-67 hot spot")  # named in the language of whoever asked


class CountRequest(BaseModel):
    # mean DAB optical density from which a nucleus counts as positive
    threshold: Annotated[float, Field(gt=0.0, lt=3.0)] = INTENSITY_THRESHOLDS[0]


@router.post("/annotations/{annotation_id}/ihc", status_code=202)
def count_nuclei(
    annotation_id: RecordId,
    user: CurrentUser,
    session: DbSession,
    state: StateDep,
    locale: RequestLocale,
    body: CountRequest | None = None,
) -> JobPublic:
    """Counts the nuclei inside the region, and the positive ones among them (a job: the
    pathologist waits for it, so it runs before batch work)."""
    annotation, slide = visible_annotation(session, user, annotation_id)
    plan_region(slide, annotation)  # a region that cannot be counted is refused now, not later
    threshold = (body or CountRequest()).threshold
    params: dict[str, object] = {"annotation_id": annotation.id, "threshold": threshold}
    job = queue.submit(session, IHC_KIND, slide.id, params, user_id=user.user_id, interactive=True)
    record_by(session, user, "count-nuclei", "annotation", annotation.id, job_id=job.id, threshold=threshold)
    start_queued(session, state)
    return to_public(job, locale)


class HotSpotRequest(BaseModel):
    label: Annotated[str, Field(min_length=1, max_length=64)] | None = None  # default: the first class


@router.post("/slides/{slide_id}/ki67-hot-spot", status_code=202)
def find_hot_spot(
    slide_id: RecordId,
    user: CurrentUser,
    session: DbSession,
    state: StateDep,
    locale: RequestLocale,
    body: HotSpotRequest | None = None,
) -> Response:
    """Finds the slide's Ki-67 hot spot (the brownest disc of 0.5 mm at low power), outlines it
    as an AI annotation and counts its nuclei (a job): the outline and the job."""
    slide = visible_slide(session, user, slide_id)
    outline = hot_spot_outline(state.settings, slide)
    colours = store.label_colours(session, slide)
    label = (body.label if body else None) or next(iter(colours), "")
    draft = store.Draft(label, outline, shape="ellipse", source="ai", name=translate(locale, HOT_SPOT_NAME))
    (annotation,) = store.create_many(session, slide, [draft], user.user_id)
    record_by(session, user, "create", "annotation", annotation.id, slide_id=slide.id)
    job = queue.submit(
        session, IHC_KIND, slide.id, {"annotation_id": annotation.id}, user_id=user.user_id, interactive=True
    )
    record_by(session, user, "count-nuclei", "annotation", annotation.id, job_id=job.id)
    start_queued(session, state)
    found = feature(annotation, slide, colours)
    return json_response({"annotation": found, "job": to_public(job, locale).model_dump(mode="json")}, 202)


@router.get("/annotations/{annotation_id}/ihc", responses={204: {"description": "not counted yet"}})
def read_nuclei_count(annotation_id: RecordId, user: CurrentUser, session: DbSession) -> Response:
    """The region's newest count, with every nucleus (level-0 px, DAB density); ``current``
    is false when the outline was edited after it. 204 when it was never counted (not an
    error: the viewer asks for every region selected)."""
    annotation, _ = visible_annotation(session, user, annotation_id)
    result = last_ihc_score(session, annotation)
    return Response(status_code=204) if result is None else json_response(result)
