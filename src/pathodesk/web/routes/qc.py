"""Quality-control report of a slide (issue 5, item 3): scores as JSON, and the thumbnail and
per-check overlays the report page and the viewer draw."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from pathodesk.config import Settings
from pathodesk.db.models import Slide
from pathodesk.errors import NotFoundError
from pathodesk.qc.checks import CHECKS
from pathodesk.qc.overlays import IMAGE_NAMES, THUMBNAIL_NAME, image_names
from pathodesk.web.deps import CurrentUser, DbSession, RecordId, StateDep
from pathodesk.web.route_helpers import cached_image_response, slide_handle, visible_slide

router = APIRouter(prefix="/api/v1", tags=["quality control"])


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


def qc_summary(settings: Settings, slide: Slide) -> QcPublic:
    directory = settings.qc_dir / slide.sha256
    base = f"/api/v1/slides/{slide.id}/qc"
    report = slide.qc_report or {}
    return QcPublic(
        slide_id=slide.id,
        checked="checks" in report,
        passed=slide.qc_passed,
        report=slide.qc_report,
        thumbnail_url=f"{base}/{THUMBNAIL_NAME}" if (directory / THUMBNAIL_NAME).is_file() else None,
        overlays=[
            QcOverlay(check=check, url=f"{base}/{check}.png", colour=CHECKS[check].hex_colour)
            for check in image_names(directory)
        ],
        limits={name: check.score_range for name, check in CHECKS.items()},
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
    return cached_image_response(
        request, f'"{handle.sha256[:32]}-qc-{name}"', path.read_bytes, media_type=media_type
    )
