"""Ingest: a staged file becomes a Slide row, or is removed with a clear reason.

Used by the upload route and ``pathodesk ingest`` alike, so both behave the same: the file
is validated by opening it, identical bytes map to the existing slide, and a failure leaves
neither a row nor a file behind (issue 2, item 6).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from pathodesk.config import Settings
from pathodesk.db.locks import take_lock
from pathodesk.db.models import DiseaseType, Exam, ResolutionState, Slide, StorageTier
from pathodesk.errors import ConflictError, NotFoundError, UnsupportedSlideError, ValidationFailedError
from pathodesk.qc.at_ingest import qc_at_ingest
from pathodesk.slides import open_slide
from pathodesk.slides.backends import supported_suffixes
from pathodesk.slides.base import SlideInfo
from pathodesk.slides.downsampled import DownsampledReader
from pathodesk.slides.overview import with_overview_levels
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.sanity import check_declared_size, check_tiles_present
from pathodesk.storage import STORE_DOWNSAMPLES, file_sha256, slide_location, store_slide_file
from pathodesk.storage.file_locks import lock_stored_file
from pathodesk.storage.files import discard_unused_file
from pathodesk.storage.policy import tier_for_patient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StagedFile:
    """Bytes already on disk in the incoming folder, with their checksum."""

    path: Path
    sha256: str
    byte_size: int
    original_name: str


@dataclass(frozen=True)
class IngestResult:
    slide: Slide
    duplicate: bool


# a staged file untouched this long belongs to no upload: its process died (kill -9, power)
STAGING_GRACE_SECONDS = 60.0


def staging_path(settings: Settings) -> Path:
    settings.incoming_dir.mkdir(parents=True, exist_ok=True)
    return settings.incoming_dir / f"{uuid.uuid4().hex}.part"


def discard_abandoned_staging(settings: Settings, grace_seconds: float = STAGING_GRACE_SECONDS) -> int:
    """Remove staged files (``incoming/``) that no upload has written to for ``grace_seconds``;
    run at start-up, so a crash never leaves them for ever. Files still being written (another
    server process on the same data directory) are newer and stay. Returns how many went."""
    removed = 0
    cutoff = time.time() - grace_seconds
    for path in settings.incoming_dir.glob("*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # its upload finished meanwhile
    return removed


def stage_copy(
    settings: Settings, source: Path, progress: Callable[[int], object] | None = None
) -> StagedFile:
    """Copy a local file into staging while hashing it (the CLI's path in)."""
    destination = staging_path(settings)
    digest = hashlib.sha256()
    size = 0
    try:
        with source.open("rb") as reader, destination.open("wb") as writer:
            while chunk := reader.read(settings.upload_chunk_bytes):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
                if progress:
                    progress(len(chunk))
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return StagedFile(destination, digest.hexdigest(), size, source.name)


def _suffix(name: str) -> str:
    """The longest suffix some backend lists (``.ome.tif`` before ``.tif``), else ``.bin``."""
    lower = name.lower()
    known = [suffix for suffix in supported_suffixes() if lower.endswith(suffix)]
    return max(known, key=len) if known else ".bin"


def _next_slide_number(session: Session, exam_id: int) -> str:
    """The exam's first free number, looked for holding the exam's numbering lock (held to the
    commit): ingests into one exam at once (``xargs -P``) take one number each."""
    take_lock(session, f"slide-numbers:{exam_id}")
    taken = set(session.scalars(select(Slide.slide_number).where(Slide.exam_id == exam_id)))
    number = len(taken) + 1
    while str(number) in taken:
        number += 1
    return str(number)


KEPT_ASSOCIATED = ("label", "macro")  # E1: what a low-resolution slide keeps beside its pyramid

# what a slide row records of its file: the same for every row that shares the file
FILE_FACTS = (
    "path",
    "sha256",
    "byte_size",
    "format",
    "vendor",
    "width",
    "height",
    "level_count",
    "mpp",
    "objective_power",
    "qc_passed",
    "qc_report",
    "associated_images",
    "resolution_state",
    "store_downsample",
    "stored_bytes",
    "stored_sha256",
    "storage_tier",
)


def _checked_slide(
    settings: Settings, staged: StagedFile
) -> tuple[SlideInfo, bool | None, dict[str, object]]:
    """Open it, refuse what is not a sane slide, run QC: (levels as served, QC verdict, report)."""
    probe = staged.path
    try:
        reader = open_slide(probe)
    except UnsupportedSlideError as exc:
        # Readers name the staged file; the user knows it by its original name only,
        # and server paths stay on the server.
        detail = exc.detail.replace(str(probe), staged.original_name).replace(
            probe.name, staged.original_name
        )
        raise UnsupportedSlideError(detail) from None
    try:
        check_declared_size(reader.info, settings.max_slide_pixels, staged.original_name)
        check_tiles_present(probe, staged.original_name)
        # the levels the server offers (stored plus overview levels), as the API lists them;
        # QC on the same reader: single-level slides get cheap thumbnails
        extended = with_overview_levels(reader)
        info = extended.info
        qc_passed, qc_report = qc_at_ingest(extended, staged.sha256, settings)
    finally:
        reader.close()
    return info, qc_passed, qc_report


def _validated(
    settings: Settings, staged: StagedFile, store_downsample: int = 1
) -> tuple[StagedFile, dict[str, Any]]:
    """The staged file under its final suffix, checked; returns it and the facts its slide row
    records. A refused file is removed here (the caller knows only its staged name). With a
    ``store_downsample`` above 1 the returned file is the reduced pyramid to keep (E1), made
    after QC has seen the scan, and the scan itself is removed."""
    if store_downsample not in STORE_DOWNSAMPLES:
        raise ValidationFailedError(
            "store downsample must be one of %(value)s", value=", ".join(map(str, STORE_DOWNSAMPLES))
        )
    suffix = _suffix(staged.original_name)
    # OpenSlide recognises some formats by extension, so validate under the final name.
    probe = staged.path.with_name(staged.path.stem + suffix)
    os.replace(staged.path, probe)
    staged = StagedFile(probe, staged.sha256, staged.byte_size, staged.original_name)
    try:
        info, qc_passed, qc_report = _checked_slide(settings, staged)
        kept = _reduced(staged, store_downsample) if store_downsample > 1 else staged
    except BaseException:
        probe.unlink(missing_ok=True)  # the caller only knows the name it staged
        raise
    facts: dict[str, Any] = {
        "path": slide_location(staged.sha256, suffix),
        "sha256": staged.sha256,
        "stored_sha256": staged.sha256,
        "byte_size": staged.byte_size,
        "format": info.format,
        "vendor": info.vendor,
        "width": info.dimensions[0],
        "height": info.dimensions[1],
        "level_count": info.level_count,
        "mpp": info.mpp_x,
        "objective_power": info.objective_power,
        "qc_passed": qc_passed,
        "qc_report": qc_report,
        "associated_images": sorted(info.associated_images),
    }
    if kept is not staged:
        probe.unlink()  # E1: the scan is not kept
        facts |= {
            "path": slide_location(staged.sha256, f"-low{store_downsample}.tif"),
            "resolution_state": ResolutionState.low,
            "store_downsample": store_downsample,
            "stored_bytes": kept.byte_size,
            "stored_sha256": file_sha256(kept.path),
            "associated_images": sorted(set(info.associated_images) & set(KEPT_ASSOCIATED)),
        }
    return kept, facts


def _reduced(staged: StagedFile, factor: int) -> StagedFile:
    """E1: the scan written as a pyramid at 1/``factor`` of its linear resolution, its own
    description saying so (and how large the scan was), beside the staged scan."""
    target = staged.path.with_name(staged.path.stem + f"-low{factor}.tif")
    reader = open_slide(staged.path)
    try:
        width, height = reader.info.dimensions
        write_pyramid(
            DownsampledReader(reader, factor),
            target,
            describe={"stored_downsample": str(factor), "scan_size": f"{width}x{height}"},
            associated={  # the label and macro images stay; a thumbnail is made from the pyramid
                name: np.asarray(reader.associated_image(name).convert("RGB"))
                for name in reader.info.associated_images
                if name in KEPT_ASSOCIATED
            },
        )
    finally:
        reader.close()
    return StagedFile(target, staged.sha256, target.stat().st_size, staged.original_name)


def _slides_with(session: Session, sha256: str) -> list[Slide]:
    """Slides of these bytes, as the database has them now (not as this session last saw them)."""
    statement = select(Slide).where(Slide.sha256 == sha256).order_by(Slide.id)
    return list(session.scalars(statement.execution_options(populate_existing=True)))


def _discard_after_failed_commit(session: Session, settings: Settings, path: str, tier: StorageTier) -> None:
    """The file this ingest stored, unless another upload of the same bytes committed a slide
    that uses it meanwhile. If the database cannot be reached the file stays (an orphan file,
    never a slide without its file)."""
    try:
        session.rollback()
        discard_unused_file(session, settings, path, tier)
    except SQLAlchemyError:
        log.warning("a file stored for a failed ingest is left in place: %s", path)


def ingest_staged(
    session: Session,
    settings: Settings,
    staged: StagedFile,
    *,
    exam_id: int,
    user_id: int | None,
    slide_number: str | None = None,
    before_commit: Callable[[Slide], None] | None = None,
    may_reuse: Callable[[Slide], bool] = lambda _slide: True,
    store_downsample: int | None = None,
) -> IngestResult:
    """Validate, store and record; the staged file is always consumed.

    Identical bytes already stored as a slide the caller may see (``may_reuse``) are that
    slide (a duplicate); stored only in cases the caller cannot see, they become a new slide
    sharing the stored file, and nothing tells the caller that they exist (issue 20, H).
    ``before_commit`` runs inside the transaction that creates the slide (the audit entry).
    ``store_downsample`` > 1 keeps only a pyramid at that fraction of the scan (E1); None:
    as the exam's disease type says.
    """
    try:
        same_bytes = _slides_with(session, staged.sha256)
        if same_bytes:  # look again holding the file's lock: its last slide may have been
            lock_stored_file(session, same_bytes[0].path)  # deleted meanwhile, or it moved
            same_bytes = _slides_with(session, staged.sha256)
        reusable = next((slide for slide in same_bytes if may_reuse(slide)), None)
        if reusable is not None:
            return IngestResult(reusable, duplicate=True)
        exam = session.get(Exam, exam_id)
        if exam is None:
            raise NotFoundError("exam %(exam_id)s does not exist", exam_id=exam_id)
        if store_downsample is None:
            kind = session.get(DiseaseType, exam.disease_type)
            store_downsample = kind.store_downsample if kind is not None else 1
        if same_bytes:
            facts = {name: getattr(same_bytes[0], name) for name in FILE_FACTS}
        else:
            staged, facts = _validated(settings, staged, store_downsample)
            facts["storage_tier"] = tier_for_patient(session, settings, exam.patient_id)  # E5 save
        slide = Slide(
            exam_id=exam_id,
            slide_number=slide_number or _next_slide_number(session, exam_id),
            original_filename=staged.original_name[:255],
            created_by_id=user_id,
            **facts,
        )
        session.add(slide)
        session.flush()
        if before_commit:
            before_commit(slide)
        if same_bytes:
            session.commit()  # the file is stored already, and shared: never removed here
            return IngestResult(slide, duplicate=False)
        lock_stored_file(session, slide.path)  # held to the commit: no deletion of the same
        store_slide_file(settings, staged.path, slide.path, slide.storage_tier)  # bytes between
        try:
            session.commit()
        except BaseException:
            _discard_after_failed_commit(session, settings, slide.path, slide.storage_tier)
            raise
        return IngestResult(slide, duplicate=False)
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError("another slide of this exam has that number") from exc
    finally:
        staged.path.unlink(missing_ok=True)
