"""Ingests of one new case started together (a researcher's ``xargs -P4 pathodesk ingest
--patient P --exam E``): every file is kept, in one patient and one exam, numbered 1, 2, 3….
Before, the ingests that lost the race to create the patient failed with "exam E belongs to
another patient", and those that lost the race for a slide number with "another slide of
this exam has that number"."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import event, func, select

from pathodesk.accounts import create_user
from pathodesk.cases import get_or_create_exam
from pathodesk.db.models import Exam, Patient, Role, Slide
from tests.storage.library import Library
from tests.support.races import meanwhile


@pytest.fixture
def library(library_on_each_database: Library) -> Library:
    return library_on_each_database


def counts(library: Library) -> tuple[int, int]:
    with library.db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Patient)) or 0,
            session.scalar(select(func.count()).select_from(Exam)) or 0,
        )


@pytest.mark.parametrize("owned", [False, True], ids=["command-line case", "expert's case"])
def test_a_case_another_ingest_creates_meanwhile_is_found_not_made_twice(
    library: Library, owned: bool
) -> None:
    """Deterministic: the other ingest creates the patient and exam, and commits, just after
    this one looked for the patient and found none."""
    owner = None
    if owned:
        with library.db.session() as session:
            owner = create_user(
                session, account="owner", name="Owner", password="a long passphrase", role=Role.expert
            ).id
    others: list[int] = []

    def the_other_ingest(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not others and "FROM patients" in statement:
            others.append(0)
            with library.db.session() as other:
                others[0] = get_or_create_exam(
                    other, patient_code="P-9", pathology_id="E-9", disease_type="lung", owner_id=owner
                ).id

    event.listen(library.db.engine, "after_cursor_execute", the_other_ingest)
    try:
        with library.db.session() as session:
            exam_id = get_or_create_exam(
                session, patient_code="P-9", pathology_id="E-9", disease_type="lung", owner_id=owner
            ).id
    finally:
        event.remove(library.db.engine, "after_cursor_execute", the_other_ingest)
    assert exam_id == others[0]
    assert counts(library) == (1, 1)


def test_two_ingests_into_one_exam_at_once_number_their_slides_one_after_the_other(library: Library) -> None:
    """The other ingest runs once this one has looked for the exam's free slide number; without
    the numbering lock both take number 1 and this one fails ("another slide of this exam has
    that number")."""
    exam_id = library.exam()
    with meanwhile(
        library.db.engine,
        lambda sql: sql.startswith("SELECT slides.slide_number"),
        lambda: library.slide(exam_id),
    ) as others:
        first = library.slide(exam_id)
    assert sorted([library.row(first).slide_number, library.row(others[0]).slide_number]) == ["1", "2"]


def test_four_command_line_ingests_of_one_new_case_at_once_keep_every_file(library: Library) -> None:
    folder = library.settings.data_dir.parent
    files = []
    for index in range(4):
        pixels = np.random.default_rng(index).integers(110, 250, size=(160, 160, 3), dtype=np.uint8)
        files.append(folder / f"parallel-{index}.png")
        Image.fromarray(pixels).save(files[-1])
    env = dict(os.environ)
    if library.settings.database_url:
        env["PATHODESK_DATABASE_URL"] = library.settings.database_url
    command = [sys.executable, "-m", "pathodesk.cli", "--data-dir", str(library.settings.data_dir), "ingest"]
    starts = [
        subprocess.Popen(
            [*command, str(path), "--patient", "P-1", "--exam", "E-1", "--disease-type", "lung", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for path in files
    ]
    reports = []
    for process in starts:
        out, errors = process.communicate(timeout=180)
        assert process.returncode == 0, (out, errors[-2000:])
        reports.append(json.loads(out))
    assert [report["failed"] for report in reports] == [[]] * 4
    assert counts(library) == (1, 1)
    with library.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Slide)) == 4
