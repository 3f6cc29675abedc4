"""Quality control made again after the lab changes a colour reference (SPEC E2): every
stored file whose report was made against another reference than its stain's now is (or
before stains were told apart) is checked again, and all its slides take the new verdict (a
file shared by several slides has one report).

Restartable by construction: what is left to do is read from the reports themselves, so a
job stopped half-way (a crash, a restart) leaves the others to the next one, and a reference
changed while the job runs is caught by its next pass. A file that cannot be read keeps its
old report and is counted, not retried within the job.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.config import Settings
from pathodesk.db.models import Slide
from pathodesk.db.session import Database
from pathodesk.errors import Cancelled
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.qc.at_ingest import checked
from pathodesk.qc.colour_reference import NO_REFERENCE, current_references, key_of, report_key, report_stain
from pathodesk.slides.base import SlideReader
from pathodesk.slides.overview import with_overview_levels
from pathodesk.slides.superresolved import open_scan
from pathodesk.storage.files import slide_file

QC_RECHECK_JOB = "qc-recheck"
RECHECKING = N_("re-checking quality control")


def current_keys(settings: Settings) -> dict[str, str]:
    """Per stain, the key of its colour reference now."""
    return {stain: key_of(reference) for stain, reference in current_references(settings).items()}


def is_stale(report: dict[str, object], keys: dict[str, str]) -> bool:
    """Made against another reference than its stain's now, or before stains were told apart."""
    stain = report_stain(report)
    return stain is None or report_key(report) != keys.get(stain, NO_REFERENCE)


def files_to_recheck(session: Session, keys: dict[str, str]) -> list[int]:
    """One slide id per stored file whose QC report is stale (``is_stale``)."""
    chosen: dict[str, int] = {}
    stale: set[str] = set()
    for slide_id, sha256, report in session.execute(select(Slide.id, Slide.sha256, Slide.qc_report)):
        if isinstance(report, dict) and "checks" in report and is_stale(report, keys):
            stale.add(sha256)
        chosen.setdefault(sha256, slide_id)
    return sorted(chosen[sha256] for sha256 in stale)


def open_for_qc(settings: Settings, slide: Slide) -> SlideReader:
    """A stored slide as QC saw its scan: scan coordinates, with overview levels."""
    return with_overview_levels(open_scan(slide_file(settings, slide)))


def _recheck(context: JobContext, slide_id: int) -> bool | None:
    """The file's new verdict, written to all its slides; None if it could not be checked."""
    settings = context.settings
    with context.db.session() as session:
        slide = session.get(Slide, slide_id)
        if slide is None:
            return None  # deleted meanwhile
        sha256 = slide.sha256
        try:
            reader = open_for_qc(settings, slide)
        except (OSError, ValueError):
            return None
    try:
        passed, report = checked(reader, sha256, settings, replace=True)
    finally:
        reader.close()
    if "error" in report:
        return None
    _save(context.db, sha256, passed, report)
    return passed


def _save(db: Database, sha256: str, passed: bool | None, report: dict[str, object]) -> None:
    with db.session() as session:
        for slide in session.scalars(select(Slide).where(Slide.sha256 == sha256)):
            slide.qc_passed, slide.qc_report = passed, report
        session.commit()


def run_qc_recheck(context: JobContext) -> dict[str, object]:
    counts = {"checked": 0, "passed": 0, "unreadable": 0}
    tried: set[tuple[int, tuple[tuple[str, str], ...]]] = set()
    while True:
        keys = current_keys(context.settings)
        key = tuple(sorted(keys.items()))
        with context.db.session() as session:
            todo = [slide_id for slide_id in files_to_recheck(session, keys) if (slide_id, key) not in tried]
        if not todo:
            return dict(counts)
        for done, slide_id in enumerate(todo):
            if context.should_stop():  # also gives way while a viewer waits (E7)
                raise Cancelled()
            context.report(done / len(todo), RECHECKING)
            tried.add((slide_id, key))
            passed = _recheck(context, slide_id)
            counts["checked" if passed is not None else "unreadable"] += 1
            counts["passed"] += bool(passed)
