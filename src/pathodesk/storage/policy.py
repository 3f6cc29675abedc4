"""Where each kept file belongs, from the records (SPEC E3, E4): a patient in hospital (an
exam admitted and not discharged, or discharged within ``recent_days_after_discharge``; an
exam without admission registered within ``outpatient_recent_days``) on the recent tier; a
patient examined within ``long_term_after_days`` on the middle tier; older on the long-term
tier. All of one patient's images follow the patient (a readmitted patient's
earlier slides come back to fast storage to be compared), and a file two patients share
follows the one who needs it nearer.

One grouped query answers for every file at once, so the nightly run costs the same at
100,000 slides as at 100 (bench/storage.py measures it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from pathodesk.config import Settings
from pathodesk.db.models import Exam, Slide, StorageTier

RANKED_TIERS = (StorageTier.recent, StorageTier.middle, StorageTier.long_term)


@dataclass(frozen=True)
class Placement:
    path: str
    current: StorageTier
    target: StorageTier
    sha256: str | None  # of the file as kept, when recorded
    byte_size: int


def _exam_rank(settings: Settings, today: date) -> ColumnElement[int]:
    discharged_since = today - timedelta(days=settings.recent_days_after_discharge)
    cutoff = today - timedelta(days=settings.long_term_after_days)
    no_stay = and_(Exam.admitted_on.is_(None), Exam.discharged_on.is_(None))
    outpatient_since = datetime.combine(today - timedelta(days=settings.outpatient_recent_days), time(), UTC)
    in_hospital = or_(
        and_(
            Exam.admitted_on.is_not(None),
            or_(Exam.discharged_on.is_(None), Exam.discharged_on > discharged_since),
        ),
        and_(no_stay, Exam.created_at >= outpatient_since),
    )
    seen_recently = or_(
        Exam.discharged_on >= cutoff,
        Exam.admitted_on >= cutoff,
        and_(no_stay, Exam.created_at >= datetime.combine(cutoff, time(), UTC)),
    )
    return case((in_hospital, 0), (seen_recently, 1), else_=2)


def _tier_rank() -> ColumnElement[int]:
    return case(
        (Slide.storage_tier == StorageTier.recent, 0), (Slide.storage_tier == StorageTier.middle, 1), else_=2
    )


def misplaced(session: Session, settings: Settings, today: date | None = None) -> list[Placement]:
    """Every kept file not on the tier the policy gives it, in one query."""
    day = today or datetime.now(UTC).date()
    patients = (
        select(Exam.patient_id, func.min(_exam_rank(settings, day)).label("rank"))
        .group_by(Exam.patient_id)
        .subquery()
    )
    target, current = func.min(patients.c.rank), func.max(_tier_rank())
    rows = session.execute(
        select(
            Slide.path,
            current,
            target,
            func.max(Slide.stored_sha256),
            func.max(func.coalesce(Slide.stored_bytes, Slide.byte_size)),
        )
        .join(Exam, Slide.exam_id == Exam.id)
        .join(patients, patients.c.patient_id == Exam.patient_id)
        .group_by(Slide.path)
        .having(target != current)
        .order_by(Slide.path)
    ).all()
    return [
        Placement(path, RANKED_TIERS[now], RANKED_TIERS[goal], sha256, int(size or 0))
        for path, now, goal, sha256, size in rows
    ]


def tier_for_patient(
    session: Session, settings: Settings, patient_id: int, today: date | None = None
) -> StorageTier:
    """The tier a new image of this patient is saved to (E5 save)."""
    day = today or datetime.now(UTC).date()
    rank = session.scalar(select(func.min(_exam_rank(settings, day))).where(Exam.patient_id == patient_id))
    return RANKED_TIERS[rank if rank is not None else 0]


def discharged_files(
    session: Session, settings: Settings, today: date | None = None, patient_id: int | None = None
) -> list[str]:
    """Checksums of the slides of patients discharged and no longer in hospital (or of one
    such patient): their generated high-resolution images leave the temporary store (E5)."""
    day = today or datetime.now(UTC).date()
    patients = (
        select(Exam.patient_id)
        .where(Exam.patient_id == patient_id if patient_id is not None else true())
        .group_by(Exam.patient_id)
        .having(
            func.min(_exam_rank(settings, day)) > 0,
            func.max(case((Exam.discharged_on.is_not(None), 1), else_=0)) == 1,
        )
        .subquery()
    )
    return list(
        session.scalars(
            select(Slide.sha256)
            .distinct()
            .join(Exam, Slide.exam_id == Exam.id)
            .where(Exam.patient_id.in_(select(patients)))
        )
    )
