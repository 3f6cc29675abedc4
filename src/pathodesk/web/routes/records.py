"""Patients and exams (SPEC A2, E3): the minimum the slide workflow needs.

Experts see the records they created; administrators see all. Full CRUD, assignment and
audit arrive with the accounts issue.
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from pathodesk.db.models import Exam, Patient
from pathodesk.errors import ConflictError, NotFoundError
from pathodesk.web.deps import CurrentUser, DbSession, can_see, visible_records

router = APIRouter(prefix="/api/v1", tags=["records"])


class PatientCreate(BaseModel):
    patient_code: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=128)
    sex: str | None = Field(default=None, max_length=16)
    birth_date: date | None = None


class PatientPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    patient_code: str
    name: str | None
    sex: str | None
    birth_date: date | None
    created_at: datetime


class ExamCreate(BaseModel):
    patient_id: int
    pathology_id: str = Field(min_length=1, max_length=64)
    disease_type: str = Field(min_length=1, max_length=64)
    clinical_notes: str | None = Field(default=None, max_length=20_000)
    admitted_on: date | None = None
    discharged_on: date | None = None


class ExamPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    patient_id: int
    pathology_id: str
    disease_type: str
    clinical_notes: str | None
    admitted_on: date | None
    discharged_on: date | None
    created_at: datetime


def _commit(session: DbSession, what: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(f"{what} already exists") from exc


@router.get("/patients")
def list_patients(user: CurrentUser, session: DbSession) -> list[PatientPublic]:
    return [PatientPublic.model_validate(p) for p in session.scalars(visible_records(user, Patient))]


@router.post("/patients", status_code=201)
def create_patient(body: PatientCreate, user: CurrentUser, session: DbSession) -> PatientPublic:
    patient = Patient(**body.model_dump(), created_by_id=user.user_id)
    session.add(patient)
    _commit(session, f"patient {body.patient_code}")
    return PatientPublic.model_validate(patient)


@router.get("/exams")
def list_exams(user: CurrentUser, session: DbSession) -> list[ExamPublic]:
    return [ExamPublic.model_validate(e) for e in session.scalars(visible_records(user, Exam))]


@router.post("/exams", status_code=201)
def create_exam(body: ExamCreate, user: CurrentUser, session: DbSession) -> ExamPublic:
    patient = session.get(Patient, body.patient_id)
    if patient is None or not can_see(user, patient.created_by_id):
        raise NotFoundError(f"patient {body.patient_id} does not exist")
    exam = Exam(**body.model_dump(), created_by_id=user.user_id)
    session.add(exam)
    _commit(session, f"exam {body.pathology_id}")
    return ExamPublic.model_validate(exam)
