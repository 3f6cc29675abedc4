"""Section groups over HTTP (API.md; SPEC D1; issue 15, item 1): serial sections of an exam
with their stains and reference, registration as a job, the stored transforms' summaries."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated

import anyio
import numpy as np
from fastapi import APIRouter, Request, Response
from PIL import Image
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from pathodesk.analysis.job_names import CLASSIFY_KIND
from pathodesk.analysis.section_classify import model_sections
from pathodesk.analysis.section_images import fitted_normalizer, overlay_png, transform_grid
from pathodesk.analysis.sections import newest_transform
from pathodesk.audit import record_by
from pathodesk.db.models import Exam, SectionGroup, SectionMember, Slide, SlideTransform, utcnow
from pathodesk.errors import ConflictError, NotFoundError, ValidationFailedError
from pathodesk.jobs import queue
from pathodesk.ml import registry
from pathodesk.registration import Transform
from pathodesk.web.access import may_see_exam
from pathodesk.web.deps import CurrentUser, DbSession, IdValue, RecordId, StateDep
from pathodesk.web.i18n import RequestLocale
from pathodesk.web.route_helpers import cached_image_response, slide_handle, start_queued, visible_exam
from pathodesk.web.routes.dzi import pixels_variant, render_tile, tile_etag, tile_key, tiler_for
from pathodesk.web.routes.jobs import JobPublic, to_public
from pathodesk.web.state import IMMUTABLE, AppState, Principal

router = APIRouter(prefix="/api/v1", tags=["section groups"])

Stain = Annotated[str, Field(min_length=1, max_length=64)]


class MemberIn(BaseModel):
    slide_id: IdValue
    stain: Stain


class GroupCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    reference_slide_id: IdValue
    slides: Annotated[list[MemberIn], Field(min_length=2, max_length=12)]

    @model_validator(mode="after")
    def reference_is_a_member(self) -> GroupCreate:
        ids = [member.slide_id for member in self.slides]
        if len(set(ids)) != len(ids):
            raise ValueError("a slide is listed twice")
        if self.reference_slide_id not in ids:
            raise ValueError("the reference slide must be one of the slides")
        return self


class GroupUpdate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    reference_slide_id: IdValue | None = None
    slides: Annotated[list[MemberIn], Field(min_length=2, max_length=12)] | None = None


class TransformPublic(BaseModel):
    version: int
    error_px: float
    error_um: float | None
    registered_at_mpp: float | None
    created_at: datetime
    summary: dict[str, object]


class MemberPublic(BaseModel):
    slide_id: int
    slide_number: str
    stain: str
    is_reference: bool
    transform: TransformPublic | None


class GroupPublic(BaseModel):
    id: int
    exam_id: int
    name: str
    reference_slide_id: int
    created_at: datetime
    slides: list[MemberPublic]


def group_public(session: DbSession, group: SectionGroup) -> GroupPublic:
    members = []
    for member in group.members:
        row = newest_transform(session, member.slide_id, group.reference_slide_id)
        transform = None
        if row is not None and member.slide_id != group.reference_slide_id:
            transform = TransformPublic.model_validate(row, from_attributes=True)
        members.append(
            MemberPublic(
                slide_id=member.slide_id,
                slide_number=member.slide.slide_number,
                stain=member.stain,
                is_reference=member.slide_id == group.reference_slide_id,
                transform=transform,
            )
        )
    return GroupPublic(
        id=group.id,
        exam_id=group.exam_id,
        name=group.name,
        reference_slide_id=group.reference_slide_id,
        created_at=group.created_at,
        slides=members,
    )


def _group(session: DbSession, user: Principal, group_id: int) -> SectionGroup:
    group = session.get(SectionGroup, group_id)
    if group is None or not may_see_exam(user, group.exam):
        raise NotFoundError("section group %(group_id)s does not exist", group_id=group_id)
    return group


def _members(
    session: DbSession, exam: Exam, slides: list[MemberIn], group_id: int | None
) -> list[SectionMember]:
    """Members checked: slides of this exam, in no other group."""
    members = []
    for position, item in enumerate(slides):
        slide = session.get(Slide, item.slide_id)
        if slide is None or slide.exam_id != exam.id:
            raise ValidationFailedError(
                "slide %(slide_id)s is not a slide of this exam", slide_id=item.slide_id
            )
        taken = session.scalars(select(SectionMember).where(SectionMember.slide_id == item.slide_id)).first()
        if taken is not None and taken.group_id != group_id:
            raise ConflictError(
                "slide %(slide_id)s is already in section group %(group_id)s",
                slide_id=item.slide_id,
                group_id=taken.group_id,
            )
        members.append(SectionMember(slide_id=item.slide_id, stain=item.stain.strip(), position=position))
    return members


@router.get("/exams/{exam_id}/section-groups")
def list_groups(exam_id: RecordId, user: CurrentUser, session: DbSession) -> list[GroupPublic]:
    exam = visible_exam(session, user, exam_id)
    groups = session.scalars(
        select(SectionGroup).where(SectionGroup.exam_id == exam.id).order_by(SectionGroup.id)
    )
    return [group_public(session, group) for group in groups]


@router.post("/exams/{exam_id}/section-groups", status_code=201)
def create_group(exam_id: RecordId, body: GroupCreate, user: CurrentUser, session: DbSession) -> GroupPublic:
    exam = visible_exam(session, user, exam_id)
    members = _members(session, exam, body.slides, None)
    group = SectionGroup(
        exam_id=exam.id,
        name=body.name.strip(),
        reference_slide_id=body.reference_slide_id,
        created_by_id=user.user_id,
    )
    group.members = members
    session.add(group)
    session.flush()
    record_by(session, user, "create", "section_group", group.id, exam_id=exam.id)
    session.refresh(group)
    return group_public(session, group)


@router.get("/section-groups/{group_id}")
def read_group(group_id: RecordId, user: CurrentUser, session: DbSession) -> GroupPublic:
    return group_public(session, _group(session, user, group_id))


@router.patch("/section-groups/{group_id}")
def update_group(group_id: RecordId, body: GroupUpdate, user: CurrentUser, session: DbSession) -> GroupPublic:
    group = _group(session, user, group_id)
    changes = body.model_dump(exclude_unset=True)
    if body.slides is not None:
        group.members = _members(session, group.exam, body.slides, group.id)
        session.flush()
    if body.name is not None:
        group.name = body.name.strip()
    if body.reference_slide_id is not None:
        group.reference_slide_id = body.reference_slide_id
    if group.reference_slide_id not in {member.slide_id for member in group.members}:
        raise ValidationFailedError("the reference slide must be one of the slides")
    group.updated_at = utcnow()
    session.flush()
    record_by(session, user, "update", "section_group", group.id, fields=sorted(changes))
    session.refresh(group)
    return group_public(session, group)


@router.delete("/section-groups/{group_id}", status_code=204)
def delete_group(group_id: RecordId, user: CurrentUser, session: DbSession) -> Response:
    """The group and its transforms go; carried annotations stay on their slides."""
    group = _group(session, user, group_id)
    record_by(session, user, "delete", "section_group", group.id, exam_id=group.exam_id)
    session.delete(group)
    return Response(status_code=204)


@router.post("/section-groups/{group_id}/register", status_code=202)
def register_group(
    group_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep, locale: RequestLocale
) -> JobPublic:
    """Registers every section onto the reference and carries its annotations (a job)."""
    group = _group(session, user, group_id)
    job = queue.submit(
        session, "register", group.reference_slide_id, {"group_id": group.id}, user_id=user.user_id
    )
    record_by(session, user, "register", "section_group", group.id, job_id=job.id)
    start_queued(session, state)
    return to_public(job, locale)


class ClassifyRequest(BaseModel):
    annotation_id: IdValue | None = None  # one outline of the reference; default every one


@router.post("/section-groups/{group_id}/classify", status_code=202)
def classify_group(
    group_id: RecordId,
    user: CurrentUser,
    session: DbSession,
    state: StateDep,
    locale: RequestLocale,
    body: ClassifyRequest | None = None,
) -> JobPublic:
    """Classifies the lesion drawn on the reference from every stain with the exam type's
    active fusion model (a job): its class, probabilities and per-stain weights."""
    group = _group(session, user, group_id)
    model = registry.model_for_slide_type(session, group.exam.disease_type, "fusion")  # said now, not later
    stains = model.card.get("stains")
    model_sections(session, group, [str(stain) for stain in stains] if isinstance(stains, list) else [])
    params: dict[str, object] = {"group_id": group.id}
    if body is not None and body.annotation_id is not None:
        params["annotation_id"] = body.annotation_id
    job = queue.submit(  # the pathologist waits beside the linked viewers (E7: interactive)
        session, CLASSIFY_KIND, group.reference_slide_id, params, user_id=user.user_id, interactive=True
    )
    record_by(session, user, "classify", "section_group", group.id, job_id=job.id)
    start_queued(session, state)
    return to_public(job, locale)


def _member(session: DbSession, user: Principal, group_id: int, slide_id: int) -> tuple[SectionGroup, Slide]:
    """A group the caller may see and one of its slides (404 otherwise)."""
    group = _group(session, user, group_id)
    slide = session.get(Slide, slide_id)
    if slide is None or slide_id not in {m.slide_id for m in group.members}:
        raise NotFoundError("slide %(slide_id)s is not in this group", slide_id=slide_id)
    return group, slide


def _member_transform(
    session: DbSession, user: Principal, group_id: int, slide_id: int
) -> tuple[SectionGroup, Slide, SlideTransform]:
    group, slide = _member(session, user, group_id, slide_id)
    row = newest_transform(session, slide_id, group.reference_slide_id)
    if row is None:
        raise NotFoundError("slide %(slide_id)s has no registration in this group", slide_id=slide_id)
    return group, slide, row


@router.get("/section-groups/{group_id}/slides/{slide_id}/transform")
def read_transform(
    group_id: RecordId, slide_id: RecordId, user: CurrentUser, session: DbSession
) -> dict[str, object]:
    """The newest transform of a section onto the reference (reference level-0 px → this
    slide's), as the linked viewers follow it."""
    group, _, row = _member_transform(session, user, group_id, slide_id)
    reference = session.get(Slide, group.reference_slide_id)
    assert reference is not None
    body = transform_grid(Transform.from_bytes(row.data), reference.width, reference.height)
    return {
        "slide_id": slide_id,
        "reference_slide_id": group.reference_slide_id,
        "version": row.version,
        **body,
    }


@router.get("/section-groups/{group_id}/slides/{slide_id}/overlay.png", response_class=Response)
def read_overlay(
    group_id: RecordId,
    slide_id: RecordId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    state: StateDep,
) -> Response:
    """This section resampled into the reference's frame (a picture the width of the
    reference's thumbnail), to lay over the reference with an opacity slider."""
    group, slide, row = _member_transform(session, user, group_id, slide_id)
    reference = session.get(Slide, group.reference_slide_id)
    assert reference is not None

    def produce() -> bytes:
        return overlay_png(state.settings, reference, slide, Transform.from_bytes(row.data))

    return cached_image_response(request, f'"overlay-{row.id}"', produce, media_type="image/png")


def _normalization_pair(
    state: AppState, user: Principal, group_id: int, slide_id: int
) -> tuple[Slide, Slide]:
    """The group's reference and this member, read in a short session of their own and
    detached: a tile must not hold a database connection while it is computed (a viewer
    asks for dozens at once)."""
    with state.db.session() as session:
        group, slide = _member(session, user, group_id, slide_id)
        reference = session.get_one(Slide, group.reference_slide_id)
        session.expunge(slide)
        session.expunge(reference)
        return reference, slide


@router.get("/section-groups/{group_id}/slides/{slide_id}/normalized.dzi", response_class=Response)
async def normalized_descriptor(
    group_id: RecordId, slide_id: RecordId, user: CurrentUser, state: StateDep
) -> Response:
    """The Deep Zoom descriptor of a section's normalized tiles (its own grid)."""
    await anyio.to_thread.run_sync(_normalization_pair, state, user, group_id, slide_id)
    handle = slide_handle(state, user, slide_id)
    xml = tiler_for(state, handle).geometry.descriptor_xml()
    return Response(xml, media_type="application/xml", headers={"Cache-Control": "private, no-cache"})


@router.get(
    "/section-groups/{group_id}/slides/{slide_id}/normalized_files/{level}/{col}_{row}.jpeg",
    response_class=Response,
)
async def normalized_tile(
    group_id: RecordId,
    slide_id: RecordId,
    level: int,
    col: int,
    row: int,
    request: Request,
    user: CurrentUser,
    state: StateDep,
) -> Response:
    """A Deep Zoom tile of a section in its group reference's colours (D3; the viewer's
    normalization switch): the slide's own tile, separated into its stains and recomposed."""
    reference, slide = await anyio.to_thread.run_sync(_normalization_pair, state, user, group_id, slide_id)
    handle = slide_handle(state, user, slide_id)
    tiler = tiler_for(state, handle)
    variant = pixels_variant(state, handle, "generated")
    etag = f'"norm-{reference.sha256[:16]}-{tile_etag(handle, tiler, level, col, row, variant)[1:]}'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
    tiler.geometry.tile_bounds(level, col, row)  # 404 before any work for a tile that cannot exist

    def produce() -> bytes:
        fitted = fitted_normalizer(state.settings, reference, slide)
        key = tile_key(handle, tiler, level, col, row, variant)
        raw = state.tiles.get(key) or render_tile(state, handle, tiler, level, col, row)
        pixels = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
        buffer = io.BytesIO()
        Image.fromarray(fitted.transform(pixels)).save(buffer, format="JPEG", quality=tiler.quality)
        return buffer.getvalue()

    body = await anyio.to_thread.run_sync(produce)
    return Response(body, media_type="image/jpeg", headers={"ETag": etag, "Cache-Control": IMMUTABLE})
