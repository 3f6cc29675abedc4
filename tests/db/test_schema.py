"""Database (issue 2, item 5): migrations, WAL, enforced foreign keys, E3 relations."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from pathodesk.config import Settings
from pathodesk.db.models import Exam, Patient, Slide
from pathodesk.db.session import Database, migrate


@pytest.fixture
def db(settings: Settings) -> Database:
    url = settings.resolved_database_url()
    migrate(url)
    migrate(url)  # idempotent
    return Database(url)


def test_migrations_create_the_e3_tables(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {"patients", "exams", "slides", "users", "auth_sessions", "alembic_version"} <= tables
    slide_columns = {c["name"] for c in inspect(db.engine).get_columns("slides")}
    assert {
        "slide_number",
        "resolution_state",
        "storage_tier",
        "path",
        "sha256",
        "byte_size",
        "format",
        "mpp",
        "acquired_at",
    } <= slide_columns


def test_sqlite_runs_in_wal_with_foreign_keys(db: Database) -> None:
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_exam_needs_an_existing_patient(db: Database) -> None:
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(Exam(pathology_id="X1", patient_id=999, disease_type="lung"))


def test_patient_with_exams_cannot_be_deleted_silently(db: Database) -> None:
    with db.session() as session:
        patient = Patient(patient_code="P1")
        session.add(patient)
        session.flush()
        session.add(Exam(pathology_id="E1", patient_id=patient.id, disease_type="lung"))
    with pytest.raises(IntegrityError), db.session() as session:
        session.execute(text("DELETE FROM patients WHERE patient_code = 'P1'"))
    with db.session() as session:
        exam = session.query(Exam).one()
        assert exam.patient.patient_code == "P1"
        session.add(_slide(exam.id, "1"))
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(_slide(exam.id, "2"))  # same sha256: the same bytes are one slide


def _slide(exam_id: int, number: str) -> Slide:
    return Slide(
        exam_id=exam_id,
        slide_number=number,
        original_filename=f"{number}.svs",
        path=number,
        sha256="0" * 64,
        byte_size=1,
        format="aperio",
        width=1,
        height=1,
        level_count=1,
    )
