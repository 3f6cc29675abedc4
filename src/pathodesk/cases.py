"""Find-or-create a patient and exam for command-line ingest and the demo; codes are looked
up among the owner's own records (they are unique per registering account). Ingests run in
parallel (``xargs -P``) each create the patient and exam once: a creator looks again holding
the code's lock, so the others wait and then find what it made."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.db.locks import take_lock
from pathodesk.db.models import DiseaseType, Exam, Patient
from pathodesk.errors import ConflictError, ValidationFailedError


def get_or_create_exam(
    session: Session,
    *,
    patient_code: str,
    pathology_id: str,
    disease_type: str,
    owner_id: int | None,
) -> Exam:
    patient = _patient(session, patient_code, owner_id)
    if patient is None:  # look again holding the code's lock: another ingest may be creating it
        take_lock(session, f"patient:{owner_id}:{patient_code}")
        patient = _patient(session, patient_code, owner_id)
    if patient is None:
        patient = Patient(patient_code=patient_code, created_by_id=owner_id)
        session.add(patient)
        session.flush()
    exam = _exam(session, pathology_id, owner_id)
    if exam is None:
        take_lock(session, f"exam:{owner_id}:{pathology_id}")
        exam = _exam(session, pathology_id, owner_id)
    if exam is None:
        if session.get(DiseaseType, disease_type) is None:
            known = ", ".join(session.scalars(select(DiseaseType.name).order_by(DiseaseType.name)))
            raise ValidationFailedError(
                "unknown disease type %(disease_type)r; known: %(known)s",
                disease_type=disease_type,
                known=known,
            )
        exam = Exam(
            pathology_id=pathology_id,
            patient_id=patient.id,
            disease_type=disease_type,
            created_by_id=owner_id,
        )
        session.add(exam)
        session.flush()
    elif exam.patient_id != patient.id:
        raise ConflictError("exam %(pathology_id)s belongs to another patient", pathology_id=pathology_id)
    return exam


def _owned_by(column: Any, owner_id: int | None) -> Any:
    return column.is_(None) if owner_id is None else column == owner_id


def _patient(session: Session, patient_code: str, owner_id: int | None) -> Patient | None:
    return session.scalar(
        select(Patient).where(
            Patient.patient_code == patient_code, _owned_by(Patient.created_by_id, owner_id)
        )
    )


def _exam(session: Session, pathology_id: str, owner_id: int | None) -> Exam | None:
    return session.scalar(
        select(Exam).where(Exam.pathology_id == pathology_id, _owned_by(Exam.created_by_id, owner_id))
    )
