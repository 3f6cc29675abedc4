"""Patients, exams with admission dates and real ingested slides, for the storage life-cycle
tests (SPEC E3–E5). Slides are small PNG images of generated tissue-like noise, unique per
slide, so that no two share a file unless a test wants them to."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from PIL import Image
from sqlalchemy import select

from pathodesk.cases import get_or_create_exam
from pathodesk.config import Settings
from pathodesk.db.models import Exam, Slide, StorageTier
from pathodesk.db.session import Database, migrate
from pathodesk.ingest import ingest_staged, stage_copy
from pathodesk.storage import file_sha256
from pathodesk.storage.tiers import PERMANENT_TIERS, tier_backend

_counter = itertools.count(1)
TODAY = datetime.now(UTC).date()


def days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


@dataclass
class Library:
    settings: Settings
    db: Database

    @classmethod
    def open(cls, settings: Settings) -> Library:
        url = settings.resolved_database_url()
        migrate(url)
        return cls(settings, Database(url))

    def exam(
        self,
        admitted: date | None = None,
        discharged: date | None = None,
        patient: str | None = None,
        registered: date | None = None,
    ) -> int:
        n = next(_counter)
        with self.db.session() as session:
            exam = get_or_create_exam(
                session,
                patient_code=patient or f"S-P{n}",
                pathology_id=f"S-E{n}",
                disease_type="lung",
                owner_id=None,
            )
            exam.admitted_on, exam.discharged_on = admitted, discharged
            if registered is not None:
                exam.created_at = datetime.combine(registered, datetime.min.time(), UTC)
            session.commit()
            return exam.id

    def patient_code(self, exam_id: int) -> str:
        with self.db.session() as session:
            exam = session.get(Exam, exam_id)
            assert exam is not None
            return exam.patient.patient_code

    def discharge(self, exam_id: int, on: date | None, admitted: date | None = None) -> None:
        with self.db.session() as session:
            exam = session.get(Exam, exam_id)
            assert exam is not None
            exam.discharged_on = on
            exam.admitted_on = admitted or exam.admitted_on
            session.commit()

    def slide(self, exam_id: int, side: int = 256) -> int:
        """A unique PNG of ``side`` pixels square, ingested as a user would."""
        n = next(_counter)
        rng = np.random.default_rng(n)
        pixels = rng.integers(120, 250, size=(side, side, 3), dtype=np.uint8)
        pixels[0, 0] = (n % 256, n // 256 % 256, 7)
        source = self.settings.data_dir.parent / f"library-{n}.png"
        Image.fromarray(pixels).save(source)
        with self.db.session() as session:
            staged = stage_copy(self.settings, source)
            slide_id = ingest_staged(session, self.settings, staged, exam_id=exam_id, user_id=None).slide.id
        source.unlink()
        return slide_id

    def row(self, slide_id: int) -> Slide:
        with self.db.session() as session:
            slide = session.get(Slide, slide_id)
            assert slide is not None
            session.expunge(slide)
            return slide

    def holders(self, slide_id: int) -> list[StorageTier]:
        """The permanent tiers that hold the slide's file, whole or not."""
        path = self.row(slide_id).path
        return [tier for tier in PERMANENT_TIERS if tier_backend(self.settings, tier).exists(path)]

    def assert_one_good_copy(self, slide_id: int) -> StorageTier:
        """The invariant of every move (SPEC E5): exactly one permanent copy, the one the database
        points at, with the recorded checksum; no partial file left anywhere."""
        slide = self.row(slide_id)
        assert self.holders(slide_id) == [slide.storage_tier], (self.holders(slide_id), slide.storage_tier)
        local = tier_backend(self.settings, slide.storage_tier).local_path(slide.path)
        if local is not None:
            assert file_sha256(local) == slide.stored_sha256
            assert not list(local.parent.glob("*.partial")), "a partial copy was left behind"
        return slide.storage_tier

    def tiers_of(self, slide_ids: list[int]) -> list[StorageTier]:
        with self.db.session() as session:
            rows = dict(
                session.execute(select(Slide.id, Slide.storage_tier).where(Slide.id.in_(slide_ids))).all()
            )
        return [StorageTier(rows[slide_id]) for slide_id in slide_ids]
