"""Patients and exams (SPEC A2, E3; issue 3, item 3).

Deleting a record that still has children answers 409 with what would be lost, unless the
caller confirms with ``?cascade=true``; then everything below goes too, each deletion in the
audit log. Nothing disappears silently.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from pathodesk.audit import record_by
from pathodesk.db.changes import apply_changes
from pathodesk.db.models import DiseaseType, Exam, ExamAssignment, Patient, Role, Slide, User
from pathodesk.db.search import contains
from pathodesk.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailedError
from pathodesk.i18n import N_
from pathodesk.lifecycle.schedule import drop_if_discharged
from pathodesk.web.access import may_see_exam, visible_exams, visible_patients
from pathodesk.web.access_log import note_opened
from pathodesk.web.deps import CurrentUser, DbSession, IdValue, RecordId, SearchQuery, StateDep
from pathodesk.web.route_helpers import forget_slide, visible_exam, visible_patient
from pathodesk.web.state import AppState, Principal

router = APIRouter(prefix="/api/v1", tags=["records"])

Text64 = Annotated[str, Field(min_length=1, max_length=64)]
Cascade = Annotated[bool, Query(description="also delete everything below this record")]


class PatientCreate(BaseModel):
    patient_code: Text64
    name: str | None = Field(default=None, max_length=128)
    sex: str | None = Field(default=None, pattern="^(female|male|other|unknown)$")
    birth_date: date | None = None
    identity_number: str | None = Field(default=None, max_length=64)


class PatientUpdate(BaseModel):
    patient_code: Text64 | None = None
    name: str | None = Field(default=None, max_length=128)
    sex: str | None = Field(default=None, pattern="^(female|male|other|unknown)$")
    birth_date: date | None = None
    identity_number: str | None = Field(default=None, max_length=64)


class PatientPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    patient_code: str
    name: str | None
    sex: str | None
    birth_date: date | None
    identity_number: str | None
    created_at: datetime


class ExamFields(BaseModel):
    clinical_notes: str | None = Field(default=None, max_length=20_000)
    admitted_on: date | None = None
    discharged_on: date | None = None

    @model_validator(mode="after")
    def discharge_after_admission(self) -> ExamFields:
        if self.admitted_on and self.discharged_on and self.discharged_on < self.admitted_on:
            raise ValueError("discharged_on is before admitted_on")
        return self


class ExamCreate(ExamFields):
    patient_id: IdValue
    pathology_id: Text64
    disease_type: Text64


class ExamUpdate(ExamFields):
    pathology_id: Text64 | None = None
    disease_type: Text64 | None = None


class ExamPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    patient_id: IdValue
    pathology_id: str
    disease_type: str
    clinical_notes: str | None
    admitted_on: date | None
    discharged_on: date | None
    created_at: datetime
    created_by_id: int | None
    assigned_user_ids: list[int] = []
    slide_ids: list[int] = []


class Assignment(BaseModel):
    user_id: IdValue


def exam_public(exam: Exam) -> ExamPublic:
    public = ExamPublic.model_validate(exam)
    public.assigned_user_ids = sorted(a.user_id for a in exam.assignments)
    public.slide_ids = sorted(s.id for s in exam.slides)
    return public


def _flush(session: DbSession, message: str, **values: object) -> None:
    """``message`` (marked with ``N_``) says which of the caller's own records collides:
    uniqueness is per registering account, so only the caller's own record can."""
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(message, **values) from exc


def _check_disease_type(session: DbSession, name: str) -> None:
    disease_type = session.get(DiseaseType, name)
    if disease_type is None or not disease_type.active:
        known = ", ".join(session.scalars(select(DiseaseType.name).where(DiseaseType.active)))
        raise ValidationFailedError("unknown disease type %(name)r; known: %(known)s", name=name, known=known)


# ---- patients ---------------------------------------------------------------------------


@router.get("/patients")
def list_patients(user: CurrentUser, session: DbSession, q: SearchQuery = None) -> list[PatientPublic]:
    query = visible_patients(user)
    if q:
        query = query.where(or_(contains(Patient.patient_code, q), contains(Patient.name, q)))
    return [PatientPublic.model_validate(p) for p in session.scalars(query)]


@router.post("/patients", status_code=201)
def create_patient(body: PatientCreate, user: CurrentUser, session: DbSession) -> PatientPublic:
    patient = Patient(**body.model_dump(), created_by_id=user.user_id)
    session.add(patient)
    _flush(session, N_("you already registered patient %(code)s"), code=body.patient_code)
    record_by(session, user, "create", "patient", patient.id)
    return PatientPublic.model_validate(patient)


@router.get("/patients/{patient_id}")
def read_patient(
    patient_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep
) -> PatientPublic:
    patient = visible_patient(session, user, patient_id)
    note_opened(state, session, user, "patient", patient.id)
    return PatientPublic.model_validate(patient)


@router.patch("/patients/{patient_id}")
def update_patient(
    patient_id: RecordId, body: PatientUpdate, user: CurrentUser, session: DbSession
) -> PatientPublic:
    patient = visible_patient(session, user, patient_id)
    fields = apply_changes(patient, body.model_dump(exclude_unset=True))
    _flush(session, N_("you already registered a patient with that ID"))
    record_by(session, user, "update", "patient", patient.id, fields=fields)
    return PatientPublic.model_validate(patient)


@router.delete("/patients/{patient_id}", status_code=204)
def delete_patient(
    patient_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep, cascade: Cascade = False
) -> Response:
    patient = visible_patient(session, user, patient_id)
    hidden = [e for e in patient.exams if not may_see_exam(user, e)]
    if hidden:
        raise ConflictError("this patient has exams in cases you cannot see; ask an administrator")
    if patient.exams and not cascade:
        slides = sum(len(e.slides) for e in patient.exams)
        raise ConflictError(
            "patient has %(count_exams)s exam(s) with %(slides)s slide(s);"
            " repeat with ?cascade=true to delete them all",
            count_exams=len(patient.exams),
            slides=slides,
        )
    files = [file for exam in list(patient.exams) for file in _delete_exam_tree(session, state, user, exam)]
    session.delete(patient)
    record_by(session, user, "delete", "patient", patient_id, cascade=cascade)
    _commit_then_remove(session, state, files)
    return Response(status_code=204)


# ---- exams ------------------------------------------------------------------------------


@router.get("/exams")
def list_exams(
    user: CurrentUser,
    session: DbSession,
    patient_id: Annotated[IdValue | None, Query()] = None,
    q: SearchQuery = None,
) -> list[ExamPublic]:
    query = visible_exams(user)
    if patient_id is not None:
        query = query.where(Exam.patient_id == patient_id)
    if q:
        query = query.where(or_(contains(Exam.pathology_id, q), contains(Exam.disease_type, q)))
    return [exam_public(e) for e in session.scalars(query)]


@router.post("/exams", status_code=201)
def create_exam(body: ExamCreate, user: CurrentUser, session: DbSession) -> ExamPublic:
    visible_patient(session, user, body.patient_id)
    _check_disease_type(session, body.disease_type)
    exam = Exam(**body.model_dump(), created_by_id=user.user_id)
    session.add(exam)
    _flush(session, N_("you already registered exam %(id)s"), id=body.pathology_id)
    record_by(session, user, "create", "exam", exam.id, patient_id=exam.patient_id)
    session.refresh(exam)
    return exam_public(exam)


@router.get("/exams/{exam_id}")
def read_exam(exam_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep) -> ExamPublic:
    exam = visible_exam(session, user, exam_id)
    note_opened(state, session, user, "exam", exam.id)
    return exam_public(exam)


@router.patch("/exams/{exam_id}")
def update_exam(
    exam_id: RecordId, body: ExamUpdate, user: CurrentUser, session: DbSession, state: StateDep
) -> ExamPublic:
    exam = visible_exam(session, user, exam_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("disease_type"):
        _check_disease_type(session, changes["disease_type"])
    apply_changes(exam, changes)
    if exam.admitted_on and exam.discharged_on and exam.discharged_on < exam.admitted_on:
        raise ValidationFailedError("discharged_on is before admitted_on")
    _flush(session, N_("you already registered an exam with that pathology ID"))
    record_by(session, user, "update", "exam", exam.id, fields=sorted(changes))
    if changes.get("discharged_on"):
        drop_if_discharged(session, state.settings, exam.patient_id)  # E5: generated images go
    return exam_public(exam)


@router.delete("/exams/{exam_id}", status_code=204)
def delete_exam(
    exam_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep, cascade: Cascade = False
) -> Response:
    exam = visible_exam(session, user, exam_id)
    if exam.slides and not cascade:
        raise ConflictError(
            "exam has %(count_slides)s slide(s); repeat with ?cascade=true to delete them too",
            count_slides=len(exam.slides),
        )
    files = _delete_exam_tree(session, state, user, exam)
    _commit_then_remove(session, state, files)
    return Response(status_code=204)


@router.post("/exams/{exam_id}/assignments", status_code=201)
def assign(
    exam_id: RecordId, body: Assignment, user: CurrentUser, session: DbSession, state: StateDep
) -> ExamPublic:
    """An administrator assigns an expert to a case; an expert who works on the case asks a
    colleague for a second opinion the same way. Either opens the case to that expert (it is
    in their worklist under "assigned to me"), and is audited."""
    exam = visible_exam(session, user, exam_id)
    expert = session.get(User, body.user_id)
    if expert is None or not expert.active or expert.role != Role.expert:
        raise ValidationFailedError("user %(user_id)s is not an active expert", user_id=body.user_id)
    if all(a.user_id != expert.id for a in exam.assignments):
        exam.assignments.append(ExamAssignment(user_id=expert.id, assigned_by_id=user.user_id))
        record_by(session, user, "assign", "exam", exam.id, user_id=expert.id)
    session.flush()
    state.slide_handles.clear()
    return exam_public(exam)


@router.delete("/exams/{exam_id}/assignments/{user_id}", status_code=204)
def unassign(
    exam_id: RecordId, user_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep
) -> Response:
    """An administrator withdraws any assignment; an expert only one they asked for, or
    their own (a second opinion given)."""
    exam = visible_exam(session, user, exam_id)
    found = next((a for a in exam.assignments if a.user_id == user_id), None)
    if found is None:
        raise NotFoundError(
            "user %(user_id)s is not assigned to exam %(exam_id)s", user_id=user_id, exam_id=exam_id
        )
    if not user.is_admin and user.user_id not in (found.assigned_by_id, found.user_id):
        raise PermissionDeniedError("only an administrator or the expert who asked can withdraw this")
    exam.assignments = [a for a in exam.assignments if a is not found]
    record_by(session, user, "unassign", "exam", exam.id, user_id=user_id)
    session.flush()
    state.slide_handles.clear()
    return Response(status_code=204)


def _delete_exam_tree(session: DbSession, state: AppState, user: Principal, exam: Exam) -> list[Slide]:
    """Delete an exam and its slides' rows; returns the slides whose files go after commit."""
    slides = list(exam.slides)
    for slide in slides:
        session.delete(slide)
        record_by(session, user, "delete", "slide", slide.id, exam_id=exam.id, sha256=slide.sha256)
    session.delete(exam)
    record_by(session, user, "delete", "exam", exam.id, slides=len(slides))
    return slides


def _commit_then_remove(session: DbSession, state: AppState, slides: list[Slide]) -> None:
    """Rows first, files after: a crash in between leaves orphan files, never dead rows."""
    session.commit()
    for slide in slides:
        forget_slide(state, slide)
