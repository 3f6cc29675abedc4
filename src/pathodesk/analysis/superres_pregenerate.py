"""High-resolution mode (SPEC E7, E8): a slide kept at low resolution generated whole, in
advance, as a full-resolution pyramid in the temporary fast store, so a reading station
reads it like a scanned slide instead of waiting for each tile.

The job walks the scan's grid tile by tile through the same reader the viewer uses (every
tile enlarged with its context margin, so the pyramid has no seams), gives way between
tiles while a viewer waits (E7), and writes the file whole or not at all. The file is named
by the slide's checksum and the generators that made it: activating another model makes
a new one, and the viewer serves generated levels from it while it matches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pathodesk.analysis.superres_service import SuperResolution
from pathodesk.config import Settings
from pathodesk.db.models import Slide
from pathodesk.db.session import Database
from pathodesk.errors import Cancelled, NotFoundError, ValidationFailedError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.slides import open_slide
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.superresolved import SuperResolvedReader, stored_downsample
from pathodesk.storage import slide_file
from pathodesk.storage.temporary import generated_slides_dir


def pregenerated_path(settings: Settings, sha256: str, tag: str) -> Path:
    """Where the whole generated pyramid of a slide (checksum) by generators ``tag`` lives."""
    safe = "".join(c if c.isalnum() else "-" for c in tag)
    return generated_slides_dir(settings) / f"{sha256}-{safe}.tif"


def run_pregeneration(context: JobContext) -> dict[str, object]:
    def progress(fraction: float) -> None:
        if context.should_stop():  # also where it gives way to a waiting viewer (E7)
            raise Cancelled
        context.report(fraction, N_("generating the full-resolution slide"))

    assert context.slide_id is not None
    target, tag = generate_full_resolution(context.settings, context.db, context.slide_id, progress)
    return {"path": target.name, "bytes": target.stat().st_size, "generators": tag}


def generate_full_resolution(
    settings: Settings, db: Database, slide_id: int, progress: Callable[[float], None]
) -> tuple[Path, str]:
    """The slide's whole generated pyramid (made now unless there already) and the tag of the
    generators that made it; ``progress`` gets the fraction done and may raise to stop."""
    with db.session() as session:
        slide = session.get(Slide, slide_id)
        if slide is None:
            raise NotFoundError("slide %(slide_id)s no longer exists", slide_id=slide_id)
        if slide.store_downsample == 1:
            raise ValidationFailedError(
                "slide %(slide_id)s is kept at full resolution already", slide_id=slide.id
            )
        path, sha256, disease_type, mpp = (
            slide_file(settings, slide),
            slide.sha256,
            slide.exam.disease_type,
            slide.mpp,
        )
    service = SuperResolution(settings, db)
    tag = service.tag(disease_type)
    target = pregenerated_path(settings, sha256, tag)
    if target.is_file():
        return target, tag
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(0.01)
    stored = open_slide(path)
    try:
        if stored_downsample(stored.info) == 1:
            raise ValidationFailedError(
                "the stored file of slide %(slide_id)s is not reduced", slide_id=slide_id
            )
        write_pyramid(
            SuperResolvedReader(stored, service.enlarger(disease_type)),
            target,
            mpp=mpp,
            progress=lambda done, total: progress(0.01 + 0.98 * done / max(1, total)),
        )
    finally:
        stored.close()
    return target, tag
