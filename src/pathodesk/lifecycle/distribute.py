"""E5 distribute: a case assigned to a reading station has its high-resolution images sent
there in advance, so the pathologist reads them at full speed (E8 high-resolution mode).

A reading station is a configured medium (``Settings.stations``: a folder the station shares
or a bucket it reads). A slide kept at full resolution is sent as kept; one kept at low
resolution is sent as its generated full-resolution pyramid (made first when missing). Each
file lands under the case's folder, is read back and checked against its checksum, and a
manifest lists what arrived; files already there with the right checksum are not sent again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathodesk.analysis.superres_pregenerate import generate_full_resolution
from pathodesk.config import Settings
from pathodesk.db.models import Exam, Slide
from pathodesk.db.session import Database
from pathodesk.errors import NotFoundError, StorageUnavailableError, ValidationFailedError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.lifecycle.organize import safe_name
from pathodesk.storage import file_sha256, slide_file
from pathodesk.storage.mirror import checksum_of
from pathodesk.storage.tiers import station_backend

DISTRIBUTE_JOB = "distribute"
DISTRIBUTE_PRIORITY = -50  # ahead of storage moves, behind analyses someone waits for


def stations(session: Session, settings: Settings) -> list[dict[str, object]]:
    assigned = dict(
        session.execute(
            select(Exam.reading_station, func.count())
            .where(Exam.reading_station.is_not(None))
            .group_by(Exam.reading_station)
        ).all()
    )
    return [
        {"station": key, "name": medium.name or key, "cases": int(assigned.get(key, 0))}
        for key, medium in sorted(settings.stations.items())
    ]


def check_station(settings: Settings, station: str | None) -> None:
    if station is not None and station not in settings.stations:
        raise ValidationFailedError(
            "unknown reading station %(station)s: one of %(value)s",
            station=station,
            value=", ".join(sorted(settings.stations)) or "-",
        )


def push_case(
    db: Database, settings: Settings, exam_id: int, progress: Callable[[float], None] = lambda _f: None
) -> dict[str, object]:
    """Send every high-resolution image of the case to its station; returns the manifest."""
    with db.session() as session:
        exam = session.get(Exam, exam_id)
        if exam is None:
            raise NotFoundError("exam %(exam_id)s does not exist", exam_id=exam_id)
        if exam.reading_station is None:
            raise ValidationFailedError("exam %(exam_id)s has no reading station", exam_id=exam_id)
        station, folder = exam.reading_station, safe_name(exam.pathology_id)
        slides = [
            (s.id, s.slide_number, s.store_downsample)
            for s in sorted(exam.slides, key=lambda s: s.slide_number)
        ]
    target = station_backend(settings, station)
    sent, entries = 0, []
    share = 1 / max(1, len(slides))
    for index, (slide_id, number, downsample) in enumerate(slides):

        def generating(fraction: float, start: float = index * share) -> None:
            progress(start + fraction * share / 2)

        source = _high_resolution_file(db, settings, slide_id, downsample, generating)
        location = f"{folder}/{safe_name(number)}{source.suffix}"
        checksum = file_sha256(source)
        if checksum_of(target, location) != checksum:
            with source.open("rb") as stream:
                target.write(stream, location, source.stat().st_size)
            if checksum_of(target, location) != checksum:
                target.delete(location)
                raise StorageUnavailableError("the copy sent to %(station)s does not match", station=station)
            sent += 1
        entries.append(
            {"file": location, "slide_number": number, "sha256": checksum, "generated": downsample > 1}
        )
        progress((index + 1) * share)
    manifest = json.dumps({"case": folder, "slides": entries}, indent=2, ensure_ascii=False).encode()
    target.write(BytesIO(manifest), f"{folder}/manifest.json", len(manifest))
    return {"station": station, "files": len(entries), "sent": sent}


def _high_resolution_file(
    db: Database, settings: Settings, slide_id: int, downsample: int, progress: Callable[[float], None]
) -> Path:
    if downsample == 1:
        with db.session() as session:
            slide = session.get(Slide, slide_id)
            assert slide is not None
            return slide_file(settings, slide)
    return generate_full_resolution(settings, db, slide_id, progress)[0]


def run_distribution(context: JobContext) -> dict[str, object]:
    def progress(fraction: float) -> None:
        context.should_stop()  # gives way while a viewer waits (E7)
        context.report(fraction, N_("sending the case to its reading station"))

    return push_case(context.db, context.settings, int(context.params["exam_id"]), progress)
