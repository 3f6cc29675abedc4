"""Slides: upload (streamed), list, read, update, delete, thumbnail, associated images."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request, Response
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError

from pathodesk.audit import record_by
from pathodesk.db.changes import apply_changes
from pathodesk.db.models import MAX_ID, Exam, Slide
from pathodesk.errors import ConflictError, NotFoundError, ValidationFailedError
from pathodesk.ingest import ingest_staged
from pathodesk.qc.colour_reference import report_stain
from pathodesk.slides import thumbnail
from pathodesk.storage import STORE_DOWNSAMPLES, slide_file
from pathodesk.web.access import may_see_exam
from pathodesk.web.access_log import note_opened
from pathodesk.web.deps import CurrentUser, DbSession, RecordId, StateDep
from pathodesk.web.route_helpers import cached_image_response, forget_slide, slide_handle, visible_slide
from pathodesk.web.state import AppState
from pathodesk.web.upload import receive_upload
from pathodesk.web.worklist import WorklistQuery, run_worklist, worklist_params

router = APIRouter(prefix="/api/v1", tags=["slides"])


class LevelPublic(BaseModel):
    width: int
    height: int
    downsample: float


class SlidePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    exam_id: int
    slide_number: str
    description: str | None
    original_filename: str
    resolution_state: str
    store_downsample: int = 1  # E1: kept at 1/N of the scan; finer levels are generated (E8)
    storage_tier: str
    sha256: str
    byte_size: int
    stored_bytes: int | None = None  # what is kept, when it is not the scan itself
    format: str
    vendor: str | None
    width: int
    height: int
    level_count: int
    mpp: float | None
    objective_power: float | None
    acquired_at: datetime | None
    created_at: datetime
    pathology_id: str | None = None
    disease_type: str | None = None
    patient_code: str | None = None
    qc_passed: bool | None = None  # False: stored as non-standard (E2); None: not checked
    stain: str | None = None  # as QC told it (stain.kind): "he", "ihc" or "fluorescence"
    status: str = "uploaded"  # A11: uploaded | analyzed | in_review | reviewed
    review_round: int = 1
    associated_images: list[str] | None = None  # label, macro…: known for slides stored since 0014


class SlideDetail(SlidePublic):
    qc_report: dict[str, object] | None = None
    levels: list[LevelPublic] = []
    associated_images: list[str] | None = []
    duplicate: bool = False


# one rule for a slide number, whether it comes with the upload form or a later PATCH
SlideNumber = Annotated[str, Field(min_length=1, max_length=64)]


class SlideUpdate(BaseModel):
    slide_number: SlideNumber | None = None
    description: str | None = Field(default=None, max_length=20_000)


def to_public(slide: Slide) -> SlidePublic:
    public = SlidePublic.model_validate(slide)
    public.pathology_id = slide.exam.pathology_id
    public.disease_type = slide.exam.disease_type
    public.patient_code = slide.exam.patient.patient_code
    public.stain = report_stain(slide.qc_report)
    return public


def to_detail(state: AppState, slide: Slide, duplicate: bool = False) -> SlideDetail:
    detail = SlideDetail(**to_public(slide).model_dump(), duplicate=duplicate, qc_report=slide.qc_report)
    with state.readers.reader(slide_file(state.settings, slide)) as reader:
        info = reader.info
        if slide.store_downsample > 1 and state.superres is not None:  # E8: the scan's levels
            info = state.superres.reader(reader, slide.exam.disease_type, stored_pixels=True).info
    detail.levels = [
        LevelPublic(width=w, height=h, downsample=d)
        for (w, h), d in zip(info.level_dimensions, info.level_downsamples, strict=True)
    ]
    detail.level_count = len(detail.levels)  # rows stored before overview levels counted fewer
    detail.associated_images = list(info.associated_images)
    return detail


@router.get("/slides")
def list_slides(
    user: CurrentUser,
    session: DbSession,
    response: Response,
    wanted: Annotated[WorklistQuery, Depends(worklist_params)],
) -> list[SlidePublic]:
    """The worklist: search (file, slide number, pathology id, patient code or name), filters,
    sort, one page; ``X-Total-Count`` says how many match in all."""
    found = run_worklist(session, user, wanted)
    response.headers["X-Total-Count"] = str(found.total)
    return [to_public(s) for s in found.slides]


@router.post(
    "/slides",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "exam_id"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "exam_id": {"type": "integer"},
                            "slide_number": {"type": "string"},
                            "store_downsample": {
                                "type": "integer",
                                "enum": list(STORE_DOWNSAMPLES),
                                "description": "keep only a pyramid at 1/N of the scan (E1); 8 keeps 1/64;"
                                " absent: the disease type's default",
                            },
                        },
                    }
                }
            },
        }
    },
)
async def upload_slide(
    request: Request, response: Response, user: CurrentUser, state: StateDep
) -> SlideDetail:
    staged, fields = await receive_upload(request, state.settings)
    try:
        exam_id = int(fields.get("exam_id", ""))
        if not 1 <= exam_id <= MAX_ID:
            raise ValueError
    except ValueError:
        staged.path.unlink(missing_ok=True)
        raise ValidationFailedError("exam_id must be a positive integer") from None
    slide_number = fields.get("slide_number") or None
    try:
        if slide_number is not None:
            slide_number = TypeAdapter(SlideNumber).validate_python(slide_number)
    except ValidationError:
        staged.path.unlink(missing_ok=True)
        raise ValidationFailedError("slide_number must be 1 to 64 characters") from None
    store_downsample = fields.get("store_downsample") or None  # None: as the disease type says
    if store_downsample is not None and store_downsample not in {str(d) for d in STORE_DOWNSAMPLES}:
        staged.path.unlink(missing_ok=True)
        raise ValidationFailedError(
            "store_downsample must be one of %(value)s", value=", ".join(map(str, STORE_DOWNSAMPLES))
        )

    def store() -> SlideDetail:
        with state.db.session() as session:
            exam = session.get(Exam, exam_id)
            if exam is None or not may_see_exam(user, exam):
                staged.path.unlink(missing_ok=True)
                raise NotFoundError("exam %(exam_id)s does not exist", exam_id=exam_id)
            result = ingest_staged(
                session,
                state.settings,
                staged,
                exam_id=exam_id,
                user_id=user.user_id,
                slide_number=slide_number,
                before_commit=lambda slide: record_by(
                    session, user, "create", "slide", slide.id, exam_id=exam_id, sha256=slide.sha256
                ),
                may_reuse=lambda slide: may_see_exam(user, slide.exam),
                store_downsample=int(store_downsample) if store_downsample else None,
            )
            return to_detail(state, result.slide, duplicate=result.duplicate)

    detail = await anyio.to_thread.run_sync(store)
    if detail.duplicate:
        response.status_code = 200
    return detail


@router.get("/slides/{slide_id}")
def read_slide(slide_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep) -> SlideDetail:
    slide = visible_slide(session, user, slide_id)
    note_opened(state, session, user, "slide", slide.id)
    return to_detail(state, slide)


@router.patch("/slides/{slide_id}")
def update_slide(slide_id: RecordId, body: SlideUpdate, user: CurrentUser, session: DbSession) -> SlidePublic:
    slide = visible_slide(session, user, slide_id)
    fields = apply_changes(slide, body.model_dump(exclude_unset=True))
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError("another slide of this exam has that number") from exc
    record_by(
        session,
        user,
        "update",
        "slide",
        slide.id,
        fields=fields,
    )
    return to_public(slide)


@router.delete("/slides/{slide_id}", status_code=204)
def delete_slide(slide_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep) -> Response:
    slide = visible_slide(session, user, slide_id)
    session.delete(slide)
    record_by(session, user, "delete", "slide", slide.id, exam_id=slide.exam_id, sha256=slide.sha256)
    session.commit()  # the row goes first: a crash now leaves an orphan file, never a dead row
    forget_slide(state, slide)
    return Response(status_code=204)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@router.get("/slides/{slide_id}/thumbnail", response_class=Response)
def slide_thumbnail(slide_id: RecordId, request: Request, user: CurrentUser, state: StateDep) -> Response:
    handle = slide_handle(state, user, slide_id)
    size = state.settings.thumbnail_px
    etag = f'"{handle.sha256[:32]}-thumb-{size}"'

    def produce() -> bytes:
        key = (handle.sha256, "thumbnail", size)
        cached = state.tiles.get(key)
        if cached is None:
            with state.readers.reader(handle.path) as reader:
                cached = _jpeg(thumbnail(reader, size))
            state.tiles.put(key, cached)
        return cached

    return cached_image_response(request, etag, produce)


@router.get("/slides/{slide_id}/associated/{name}", response_class=Response)
def associated_image(slide_id: RecordId, name: str, user: CurrentUser, state: StateDep) -> Response:
    """The label and macro images carry the patient's name and barcode: never kept in the
    browser's cache (a shared workstation), unlike the tissue's tiles."""
    handle = slide_handle(state, user, slide_id)
    with state.readers.reader(handle.path) as reader:
        body = _jpeg(reader.associated_image(name))
    return Response(body, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})
