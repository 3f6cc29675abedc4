"""Quality-control report of a slide (issue 5, item 3): scores as JSON, and the thumbnail and
per-check overlays the report page and the viewer draw; and the lab's colour references (E2:
the standard image the colour check compares with), one per stain, which administrators set
from a slide."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from pathodesk.audit import record_by
from pathodesk.config import Settings
from pathodesk.db.models import Slide, User, utcnow
from pathodesk.errors import NotFoundError, ValidationFailedError
from pathodesk.lifecycle.qc_recheck import QC_RECHECK_JOB, open_for_qc
from pathodesk.lifecycle.schedule import submit_storage_job
from pathodesk.qc.checks import CHECKS
from pathodesk.qc.colour_reference import (
    ColourReference,
    clear_reference,
    current_reference,
    key_of,
    lab_reference,
    report_key,
    report_stain,
    save_reference,
    slide_histogram,
    source_of,
)
from pathodesk.qc.overlays import IMAGE_NAMES, THUMBNAIL_NAME, image_names
from pathodesk.stain.kind import HE
from pathodesk.web.deps import AdminUser, CurrentUser, DbSession, IdValue, RecordId, StateDep
from pathodesk.web.route_helpers import cached_image_response, slide_handle, start_queued, visible_slide

router = APIRouter(prefix="/api/v1", tags=["quality control"])
Stain = Literal["he", "ihc"]  # stain.kind.STAINS


class QcOverlay(BaseModel):
    check: str
    url: str
    colour: str  # CSS hex, as drawn


class QcPublic(BaseModel):
    slide_id: int
    checked: bool
    passed: bool | None  # None: not checked (sampling) or QC could not run
    report: dict[str, object] | None
    thumbnail_url: str | None
    overlays: list[QcOverlay]
    limits: dict[str, tuple[float | None, float | None]]  # per check, the scores that pass
    stain: str | None  # "he", "ihc" or "fluorescence" (stain.kind); None: checked before stains were told
    # the colour check's standard: "built-in", the lab's reference slide ("lab") or "none", as when checked
    colour_reference: str
    colour_reference_slide_id: int | None


def qc_summary(settings: Settings, slide: Slide) -> QcPublic:
    directory = settings.qc_dir / slide.sha256
    report = slide.qc_report or {}
    # pictures are cached for good: a QC made again (another reference) has new addresses
    key = report_key(report)
    base, version = f"/api/v1/slides/{slide.id}/qc", f"?v={key}"
    described = report.get("colour_reference")
    return QcPublic(
        slide_id=slide.id,
        checked="checks" in report,
        passed=slide.qc_passed,
        report=slide.qc_report,
        thumbnail_url=f"{base}/{THUMBNAIL_NAME}{version}" if (directory / THUMBNAIL_NAME).is_file() else None,
        overlays=[
            QcOverlay(check=check, url=f"{base}/{check}.png{version}", colour=CHECKS[check].hex_colour)
            for check in image_names(directory)
        ],
        limits={name: check.score_range for name, check in CHECKS.items()},
        stain=report_stain(report),
        colour_reference=source_of(key),
        colour_reference_slide_id=described.get("slide_id") if isinstance(described, dict) else None,
    )


@router.get("/slides/{slide_id}/qc")
def read_qc(slide_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep) -> QcPublic:
    return qc_summary(state.settings, visible_slide(session, user, slide_id))


@router.get("/slides/{slide_id}/qc/{name}", response_class=Response)
def qc_image(slide_id: RecordId, name: str, request: Request, user: CurrentUser, state: StateDep) -> Response:
    """Thumbnail (JPEG) or one check's overlay (PNG); names come from a fixed set."""
    handle = slide_handle(state, user, slide_id)
    if name not in IMAGE_NAMES:
        raise NotFoundError("no QC image named %(value)r", value=name[:64])
    path: Path = state.settings.qc_dir / handle.sha256 / name
    if not path.is_file():
        raise NotFoundError("slide %(slide_id)s has no QC image %(name)s", slide_id=slide_id, name=name)
    media_type = "image/jpeg" if name == THUMBNAIL_NAME else "image/png"
    version = path.stat().st_mtime_ns  # QC made again writes new pictures
    return cached_image_response(
        request, f'"{handle.sha256[:32]}-qc-{name}-{version}"', path.read_bytes, media_type=media_type
    )


class ColourReferenceChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slide_id: IdValue


class ColourReferencePublic(BaseModel):
    stain: str  # the slides it is the standard of: "he" or "ihc"
    # "built-in": TIAToolbox's H&E tile; "lab": one of the lab's slides; "none": IHC before one is chosen
    source: str
    key: str  # its version, recorded in every QC report made against it
    slide_id: int | None  # the lab's reference slide (it may since have been deleted)
    set_by_name: str | None
    set_at: str | None
    job_id: int | None = None  # the job checking stored slides again against it


def _public(
    session: Session, stain: str, reference: ColourReference | None, job_id: int | None = None
) -> ColourReferencePublic:
    setter = session.get(User, reference.set_by) if reference and reference.set_by else None
    key = key_of(reference)
    return ColourReferencePublic(
        stain=stain,
        source=source_of(key),
        key=key,
        slide_id=reference.slide_id if reference else None,
        set_by_name=setter.name if setter else None,
        set_at=reference.set_at if reference else None,
        job_id=job_id,
    )


def colour_reference_public(session: Session, settings: Settings, stain: str = HE) -> ColourReferencePublic:
    return _public(session, stain, current_reference(settings, stain))


@router.get("/qc/colour-reference")
def read_colour_reference(
    _user: CurrentUser, session: DbSession, state: StateDep, stain: Stain = "he"
) -> ColourReferencePublic:
    return colour_reference_public(session, state.settings, stain)


def _recheck(session: Session, state: StateDep, admin: AdminUser) -> int:
    job_id = submit_storage_job(session, QC_RECHECK_JOB, user_id=admin.user_id)
    start_queued(session, state)
    return job_id


@router.put("/qc/colour-reference", status_code=202)
def set_colour_reference(
    body: ColourReferenceChoice, admin: AdminUser, session: DbSession, state: StateDep
) -> ColourReferencePublic:
    """This slide's tissue colours become the lab's standard for slides of its stain; every
    checked slide is checked again (a job)."""
    slide = visible_slide(session, admin, body.slide_id)
    try:
        reader = open_for_qc(state.settings, slide)
    except OSError:
        raise ValidationFailedError("This slide's file cannot be read.") from None
    try:
        histogram, stain = slide_histogram(reader)
    finally:
        reader.close()
    reference = lab_reference(histogram, slide.id, admin.user_id, utcnow(), stain)
    save_reference(state.settings, reference)
    record_by(session, admin, "set-colour-reference", "slide", slide.id, stain=stain)
    return _public(session, stain, reference, _recheck(session, state, admin))


@router.delete("/qc/colour-reference", status_code=202)
def clear_colour_reference(
    admin: AdminUser, session: DbSession, state: StateDep, stain: Stain = "he"
) -> ColourReferencePublic:
    """Back to the built-in H&E reference, or to none for IHC; checked slides are checked again."""
    clear_reference(state.settings, stain)
    record_by(session, admin, "clear-colour-reference", "qc", None, stain=stain)
    reference = current_reference(state.settings, stain)
    return _public(session, stain, reference, _recheck(session, state, admin))
