"""Records owned by expert A, made directly through the services, for authorization tests."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pathodesk.accounts import create_user
from pathodesk.cases import get_or_create_exam
from pathodesk.config import Settings
from pathodesk.db.models import ExamAssignment, Role
from pathodesk.db.session import Database
from pathodesk.ingest import ingest_staged, stage_copy
from tests.support.accounts import Accounts
from tests.support.http import PASSWORD

_counter = itertools.count(1)


@dataclass
class World:
    settings: Settings
    accounts: Accounts
    svs: Path
    tmp: Path

    @property
    def db(self) -> Database:
        return Database(self.settings.resolved_database_url())

    def patient_and_exam(self) -> tuple[int, int]:
        n = next(_counter)
        with self.db.session() as session:
            exam = get_or_create_exam(
                session,
                patient_code=f"W-P{n}",
                pathology_id=f"W-E{n}",
                disease_type="lung",
                owner_id=self.accounts.expert_a_id,
            )
            return exam.patient_id, exam.id

    def slide(self, exam_id: int | None = None, svs: bool = False) -> int:
        """A new slide in A's case: the real SVS, or a unique PNG cut from it."""
        if exam_id is None:
            exam_id = self.patient_and_exam()[1]
        n = next(_counter)
        if svs:
            source = self.svs
        else:
            pixels = np.asarray(Image.open(self.svs_region()).convert("RGB")).copy()
            pixels[0, 0] = (n % 256, n // 256 % 256, 7)  # unique bytes, so no dedupe
            source = self.tmp / f"w{n}.png"
            Image.fromarray(pixels).save(source)
        with self.db.session() as session:
            staged = stage_copy(self.settings, source)
            return ingest_staged(
                session, self.settings, staged, exam_id=exam_id, user_id=self.accounts.expert_a_id
            ).slide.id

    def svs_region(self) -> io.BytesIO:
        from pathodesk.slides import open_slide

        region = open_slide(self.svs).read_region((800, 800), 0, (600, 400))
        buffer = io.BytesIO()
        Image.fromarray(region).save(buffer, "PNG")
        buffer.seek(0)
        return buffer

    def expert(self) -> int:
        n = next(_counter)
        with self.db.session() as session:
            return create_user(
                session, account=f"w-expert-{n}", name=f"W {n}", password=PASSWORD, role=Role.expert
            ).id

    def assignment(self) -> tuple[int, int]:
        _, exam_id = self.patient_and_exam()
        user_id = self.expert()
        with self.db.session() as session:
            session.add(ExamAssignment(exam_id=exam_id, user_id=user_id))
        return exam_id, user_id

    def png_bytes(self) -> bytes:
        n = next(_counter)
        pixels = np.asarray(Image.open(self.svs_region()).convert("RGB")).copy()
        pixels[1, 1] = (n % 256, n // 256 % 256, 9)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "PNG")
        return buffer.getvalue()
