"""Nuclear IHC counts over HTTP: the Ki-67 index (and H-score) of a region drawn on a slide,
counted by a job (``analysis.ihc_job``) and read back with every nucleus for the viewer.

Everyone who may see a slide may count in its regions, as they may draw them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from pathodesk.analysis.ihc_job import IHC_KIND, last_ihc_score, plan_region
from pathodesk.audit import record_by
from pathodesk.jobs import queue
from pathodesk.stain.ihc import INTENSITY_THRESHOLDS
from pathodesk.web.deps import CurrentUser, DbSession, RecordId, StateDep
from pathodesk.web.i18n import RequestLocale
from pathodesk.web.route_helpers import start_queued, visible_annotation
from pathodesk.web.routes.annotations import json_response
from pathodesk.web.routes.jobs import JobPublic, to_public

router = APIRouter(prefix="/api/v1", tags=["nuclear IHC"])


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


@router.get("/annotations/{annotation_id}/ihc", responses={204: {"description": "not counted yet"}})
def read_nuclei_count(annotation_id: RecordId, user: CurrentUser, session: DbSession) -> Response:
    """The region's newest count, with every nucleus (level-0 px, DAB density); ``current``
    is false when the outline was edited after it. 204 when it was never counted (not an
    error: the viewer asks for every region selected)."""
    annotation, _ = visible_annotation(session, user, annotation_id)
    result = last_ihc_score(session, annotation)
    return Response(status_code=204) if result is None else json_response(result)
