"""The slide worklist (issue 21, item 6): search, filters, sort and pages, done by the database.

One query builder for the API (``GET /api/v1/slides``) and the slide list page, so that what
a pathologist filters on the page is what a script gets from the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Query
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from pathodesk.db.models import MAX_ID, Exam, ExamAssignment, Patient, Slide, SlideStatus
from pathodesk.web.access import visible_slides
from pathodesk.web.deps import SearchQuery
from pathodesk.web.state import Principal

SORTS = {
    "newest": (Slide.id.desc(),),
    "oldest": (Slide.id.asc(),),
    "patient": (Patient.patient_code.asc(), Slide.id.desc()),
    "pathology_id": (Exam.pathology_id.asc(), Slide.slide_number.asc()),
    "status": (Slide.status.asc(), Slide.id.desc()),
}
Sort = Literal["newest", "oldest", "patient", "pathology_id", "status"]
Mine = Literal["assigned", "review"]
AWAITING_REVIEW = (SlideStatus.analyzed, SlideStatus.in_review)
PER_PAGE = 48  # the page's cards
API_PER_PAGE = 200  # scripts read more at once; X-Total-Count tells them when to ask again


@dataclass(frozen=True)
class WorklistQuery:
    q: str | None = None
    status: SlideStatus | None = None
    disease_type: str | None = None
    exam_id: int | None = None
    patient_id: int | None = None
    mine: Mine | None = None  # assigned: cases assigned to me; review: my slides awaiting review
    sort: Sort = "newest"
    page: int = 1
    per_page: int = PER_PAGE


def worklist_params(
    q: SearchQuery = None,
    status: SlideStatus | None = None,
    disease_type: Annotated[str | None, Query(max_length=64)] = None,
    exam_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    patient_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    mine: Mine | None = None,
    sort: Sort = "newest",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=1000)] = API_PER_PAGE,
) -> WorklistQuery:
    """The query string of the list: FastAPI validates it (422 on a bad value)."""
    return WorklistQuery(q, status, disease_type, exam_id, patient_id, mine, sort, page, per_page)


def _filtered(user: Principal, wanted: WorklistQuery) -> Select[Slide]:
    query = visible_slides(user).order_by(None).join(Slide.exam).join(Exam.patient)
    if wanted.q:
        pattern = f"%{wanted.q.lower()}%"
        query = query.where(
            or_(
                func.lower(Slide.original_filename).like(pattern),
                func.lower(Slide.slide_number).like(pattern),
                func.lower(Exam.pathology_id).like(pattern),
                func.lower(Patient.patient_code).like(pattern),
                func.lower(Patient.name).like(pattern),
            )
        )
    if wanted.status:
        query = query.where(Slide.status == wanted.status)
    if wanted.disease_type:
        query = query.where(Exam.disease_type == wanted.disease_type)
    if wanted.exam_id:
        query = query.where(Slide.exam_id == wanted.exam_id)
    if wanted.patient_id:
        query = query.where(Exam.patient_id == wanted.patient_id)
    if wanted.mine == "assigned":
        assigned = select(ExamAssignment.exam_id).where(ExamAssignment.user_id == user.user_id)
        query = query.where(Slide.exam_id.in_(assigned))
    elif wanted.mine == "review":  # among the cases I may open: analysed, or edited and not signed
        query = query.where(Slide.status.in_(AWAITING_REVIEW))
    return query


@dataclass(frozen=True)
class WorklistPage:
    slides: list[Slide]
    total: int
    page: int
    pages: int


def run_worklist(session: Session, user: Principal, wanted: WorklistQuery) -> WorklistPage:
    query = _filtered(user, wanted)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // wanted.per_page))
    page = min(wanted.page, pages)
    rows = session.scalars(
        query.order_by(*SORTS[wanted.sort]).offset((page - 1) * wanted.per_page).limit(wanted.per_page)
    )
    return WorklistPage(list(rows), total, page, pages)
