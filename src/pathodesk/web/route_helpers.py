"""What several route modules share: the one rule that authorises a slide (used fresh from
the database by record routes, and through a short-lived cache by tiles and images),
cached image responses, forgetting a deleted slide, and starting a queued job.

Unauthorised and missing slides answer the same 404, so ids leak nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Response
from sqlalchemy.orm import Session

from pathodesk.db.models import Annotation, Exam, Patient, Slide
from pathodesk.errors import NotFoundError
from pathodesk.storage import release_slide_files, slide_file
from pathodesk.web.access import exam_viewers, may_see, may_see_exam, may_see_patient
from pathodesk.web.state import IMMUTABLE, AppState, Principal, SlideHandle


def _authorise_slide(user: Principal, viewer_ids: frozenset[int], slide_id: int) -> None:
    if not may_see(user, viewer_ids):
        raise NotFoundError("slide %(slide_id)s does not exist", slide_id=slide_id)


def start_queued(session: Session, state: AppState) -> None:
    """Commit what queued a job (the job and its audit entry) and wake the in-process
    workers: a worker only sees a job once it is committed."""
    session.commit()
    if state.workers is not None:
        state.workers.wake()


def visible_patient(session: Session, user: Principal, patient_id: int) -> Patient:
    """The patient's row, if this caller may see it."""
    patient = session.get(Patient, patient_id)
    if patient is None or not may_see_patient(user, patient):
        raise NotFoundError("patient %(patient_id)s does not exist", patient_id=patient_id)
    return patient


def visible_annotation(
    session: Session, user: Principal, annotation_id: int, *, live: bool = True
) -> tuple[Annotation, Slide]:
    """The annotation and its slide; 404 alike for missing, deleted (when ``live``) and unseen."""
    annotation = session.get(Annotation, annotation_id)
    slide = session.get(Slide, annotation.slide_id) if annotation else None
    if (
        annotation is None
        or slide is None
        or (live and annotation.deleted)
        or not may_see_exam(user, slide.exam)
    ):
        raise NotFoundError("annotation %(annotation_id)s does not exist", annotation_id=annotation_id)
    return annotation, slide


def visible_exam(session: Session, user: Principal, exam_id: int) -> Exam:
    """The exam's row, if this caller may see it."""
    exam = session.get(Exam, exam_id)
    if exam is None or not may_see_exam(user, exam):
        raise NotFoundError("exam %(exam_id)s does not exist", exam_id=exam_id)
    return exam


def visible_slide(session: Session, user: Principal, slide_id: int) -> Slide:
    """The slide's row, if this caller may see it."""
    slide = session.get(Slide, slide_id)
    if slide is None:
        raise NotFoundError("slide %(slide_id)s does not exist", slide_id=slide_id)
    _authorise_slide(user, exam_viewers(slide.exam), slide_id)
    return slide


def slide_handle(state: AppState, user: Principal, slide_id: int) -> SlideHandle:
    """The slide's file and checksum, if this caller may see it; cached for a few seconds
    (assignment changes clear the cache) so that tiles skip the database."""
    handle = state.slide_handles.get(slide_id)
    if handle is None:
        with state.db.session() as session:
            slide = session.get(Slide, slide_id)
            if slide is None:
                raise NotFoundError("slide %(slide_id)s does not exist", slide_id=slide_id)
            handle = SlideHandle(
                slide_id=slide.id,
                path=slide_file(state.settings, slide),
                sha256=slide.sha256,
                viewer_ids=exam_viewers(slide.exam),
                disease_type=slide.exam.disease_type,
                store_downsample=slide.store_downsample,
            )
        state.slide_handles.put(slide_id, handle)
    _authorise_slide(user, handle.viewer_ids, slide_id)
    return handle


def cached_image_response(
    request: Request, etag: str, produce: Callable[[], bytes], media_type: str = "image/jpeg"
) -> Response:
    """Images that never change for a given checksum: ETag, 304 and long caching."""
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
    body = produce()
    return Response(body, media_type=media_type, headers={"ETag": etag, "Cache-Control": IMMUTABLE})


def forget_slide(state: AppState, slide: Slide) -> None:
    """After a slide's row is gone: drop its caches, its analysis, and its file unless another
    slide (the same bytes in another case) still uses it."""
    state.slide_handles.pop(slide.id)
    with state.db.session() as session:
        released = release_slide_files(session, state.settings, slide)
    if released:
        state.readers.evict(slide_file(state.settings, slide))
        state.tiles.discard_prefix(slide.sha256)
        state.tilers.pop(slide.sha256, None)
