"""E5 organize: every image of one patient gathered into one folder (or one zip), from whichever
tiers hold them, each copy checked against its recorded checksum, with a manifest that says
what each file is. Written under a temporary name and renamed when whole, so a folder that
exists is complete."""

from __future__ import annotations

import json
import shutil
import uuid
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pathodesk.config import Settings
from pathodesk.db.models import Exam, Patient, Slide, StorageTier, User
from pathodesk.db.session import Database
from pathodesk.errors import ConflictError, NotFoundError, ValidationFailedError
from pathodesk.storage import file_sha256, slide_file
from pathodesk.storage.report import TIER_NAMES

MANIFEST = "manifest.json"


def find_patient(db: Database, patient_code: str, owner: str | None = None) -> int:
    """Patient codes are unique per registering account: ``owner`` (an account) chooses when
    two accounts used the same code."""
    with db.session() as session:
        query = select(Patient.id).where(Patient.patient_code == patient_code)
        if owner is not None:
            query = query.join(User, Patient.created_by_id == User.id).where(User.account == owner)
        found = list(session.scalars(query))
    if not found:
        raise NotFoundError("patient %(code)s does not exist", code=patient_code)
    if len(found) > 1:
        raise ConflictError(
            "%(count)s accounts registered a patient %(code)s: say whose with --owner",
            count=len(found),
            code=patient_code,
        )
    return found[0]


def safe_name(name: str) -> str:
    """A file or folder name from a record's text (a pathology id, a slide number)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return cleaned or "unnamed"


def organize_patient(
    db: Database, settings: Settings, patient_id: int, out: Path, exam_ids: set[int] | None = None
) -> dict[str, object]:
    """``out`` a folder (made; must not exist) or a ``.zip`` file; returns the manifest. Only
    the exams in ``exam_ids`` when given (those the asking user may see)."""
    if out.exists():
        raise ConflictError("%(path)s exists already: choose a new place", path=str(out))
    with db.session() as session:
        patient = session.get(
            Patient, patient_id, options=[selectinload(Patient.exams).selectinload(Exam.slides)]
        )
        if patient is None:
            raise NotFoundError("patient %(patient_id)s does not exist", patient_id=patient_id)
        staging = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
        staging.mkdir(parents=True)
        try:
            manifest = _gather(settings, patient, staging, exam_ids)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    try:
        if out.suffix.lower() == ".zip":
            _zip(staging, out)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _gather(
    settings: Settings, patient: Patient, folder: Path, exam_ids: set[int] | None
) -> dict[str, object]:
    exams = []
    chosen = [exam for exam in patient.exams if exam_ids is None or exam.id in exam_ids]
    for exam in sorted(chosen, key=lambda e: e.pathology_id):
        slides = []
        for slide in sorted(exam.slides, key=lambda s: s.slide_number):
            slides.append(_copy_slide(settings, slide, folder / safe_name(exam.pathology_id)))
        exams.append(
            {
                "pathology_id": exam.pathology_id,
                "disease_type": exam.disease_type,
                "admitted_on": exam.admitted_on.isoformat() if exam.admitted_on else None,
                "discharged_on": exam.discharged_on.isoformat() if exam.discharged_on else None,
                "slides": slides,
            }
        )
    return {"patient_code": patient.patient_code, "exams": exams}


def _copy_slide(settings: Settings, slide: Slide, folder: Path) -> dict[str, object]:
    source = slide_file(settings, slide)
    name = f"{safe_name(slide.slide_number)}-{safe_name(Path(slide.original_filename).stem)}{source.suffix}"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / name)
    checksum = file_sha256(folder / name)
    if slide.stored_sha256 is not None and checksum != slide.stored_sha256:
        raise ValidationFailedError(
            "the copy of slide %(slide_id)s does not match its checksum", slide_id=slide.id
        )
    return {
        "file": f"{folder.name}/{name}",
        "slide_number": slide.slide_number,
        "original_filename": slide.original_filename,
        "sha256": checksum,
        "scan_sha256": slide.sha256,
        "bytes": (folder / name).stat().st_size,
        "resolution": slide.resolution_state.value,
        "store_downsample": slide.store_downsample,
        "width": slide.width,
        "height": slide.height,
        "mpp": slide.mpp,
        "tier": TIER_NAMES[StorageTier(slide.storage_tier)],
    }


def _zip(folder: Path, out: Path) -> None:
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:  # slides are compressed already
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
        partial.rename(out)
    finally:
        partial.unlink(missing_ok=True)
