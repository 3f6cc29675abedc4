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
        session.add(_slide(exam.id, "1"))  # one number, one slide per exam
    with db.session() as session:  # the same bytes may be two slides (issue 20, H): one stored file
        session.add(_slide(exam.id, "2"))


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


def test_upgrade_from_0001_keeps_every_record(settings: Settings) -> None:
    from alembic import command

    from pathodesk.db.session import alembic_config

    url = settings.resolved_database_url()
    command.upgrade(alembic_config(url), "0001")
    db = Database(url)
    with db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO patients (id, patient_code, created_at) VALUES (1, 'P1', '2026-01-01')")
        )
        connection.execute(
            text(
                "INSERT INTO exams (id, pathology_id, patient_id, disease_type, created_at) "
                "VALUES (1, 'E1', 1, 'kidney', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO slides (exam_id, slide_number, original_filename, resolution_state, "
                "storage_tier, path, sha256, byte_size, format, width, height, level_count, created_at) "
                "VALUES (1, '1', 'a.svs', 'high', 'recent', 'a', 'abc', 1, 'aperio', 1, 1, 1, '2026-01-01')"
            )
        )
    db.dispose()
    migrate(url)
    db = Database(url)
    with db.session() as session:
        exam = session.query(Exam).one()
        assert exam.disease_type == "kidney" and len(exam.slides) == 1
        names = {row[0] for row in session.execute(text("SELECT name FROM disease_types"))}
        assert {"lung", "thyroid", "kidney"} <= names
    with pytest.raises(IntegrityError), db.session() as session:
        session.execute(text("UPDATE exams SET disease_type = 'no-such-type'"))


def test_audit_log_is_append_only(db: Database) -> None:
    from pathodesk.db.models import AuditEvent

    with db.session() as session:
        session.add(AuditEvent(action="create", record_type="patient", record_id="1", detail={}))
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"), db.session() as session:
            session.execute(text(statement))
    with db.session() as session:
        assert session.query(AuditEvent).one().action == "create"


def test_ids_of_deleted_records_are_never_handed_out_again(db: Database) -> None:
    """Issue 21, item 4: SQLite reused the id of the last deleted row, so a bookmark or an
    audit entry of a deleted patient pointed at the next one."""
    with db.session() as session:
        keeper = Patient(patient_code="KEEP")
        gone = Patient(patient_code="GONE")
        session.add_all([keeper, gone])
        session.flush()
        exam = Exam(pathology_id="GONE", patient_id=keeper.id, disease_type="lung")
        session.add(exam)
        session.flush()
        gone_patient, gone_exam, keeper_id = gone.id, exam.id, keeper.id
    with db.session() as session:  # the newest rows of their tables
        session.execute(text("DELETE FROM exams WHERE id = :id"), {"id": gone_exam})
        session.execute(text("DELETE FROM patients WHERE id = :id"), {"id": gone_patient})
    with db.session() as session:
        patient = Patient(patient_code="NEXT")
        session.add(patient)
        session.flush()
        exam = Exam(pathology_id="NEXT", patient_id=keeper_id, disease_type="lung")
        session.add(exam)
        session.flush()
        assert patient.id > gone_patient and exam.id > gone_exam
