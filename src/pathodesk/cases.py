"""Find-or-create a patient and exam for command-line ingest and the demo; codes are looked
up among the owner's own records (they are unique per registering account)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

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
    patient = session.scalar(
        select(Patient).where(Patient.patient_code == patient_code, Patient.created_by_id.is_(owner_id))
        if owner_id is None
        else select(Patient).where(Patient.patient_code == patient_code, Patient.created_by_id == owner_id)
    )
    if patient is None:
        patient = Patient(patient_code=patient_code, created_by_id=owner_id)
        session.add(patient)
        session.flush()
    exam = session.scalar(
        select(Exam).where(Exam.pathology_id == pathology_id, Exam.created_by_id.is_(owner_id))
        if owner_id is None
        else select(Exam).where(Exam.pathology_id == pathology_id, Exam.created_by_id == owner_id)
    )
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
