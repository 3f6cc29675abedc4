"""Who may see which case (issue 3, item 4; SPEC A13).

A case is an exam. Administrators see every case; an expert sees the exams they created
and those an administrator assigned to them, the slides of those exams, and the patients
behind them (plus patients they registered themselves). Thumbnails, tiles and exports use
the same rule because they all go through the slide.
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from pathodesk.db.models import Exam, ExamAssignment, Patient, Slide
from pathodesk.web.state import Principal


def exam_viewers(exam: Exam) -> frozenset[int]:
    """Experts who may open this exam (its creator and its assignees)."""
    ids = {assignment.user_id for assignment in exam.assignments}
    if exam.created_by_id is not None:
        ids.add(exam.created_by_id)
    return frozenset(ids)


def may_see(user: Principal, viewer_ids: frozenset[int]) -> bool:
    return user.is_admin or user.user_id in viewer_ids


def may_see_exam(user: Principal, exam: Exam) -> bool:
    return may_see(user, exam_viewers(exam))


def may_see_patient(user: Principal, patient: Patient) -> bool:
    return (
        user.is_admin
        or patient.created_by_id == user.user_id
        or any(may_see_exam(user, exam) for exam in patient.exams)
    )


def _visible_exam_ids(user: Principal) -> Select[int]:
    assigned = select(ExamAssignment.exam_id).where(ExamAssignment.user_id == user.user_id)
    return select(Exam.id).where(or_(Exam.created_by_id == user.user_id, Exam.id.in_(assigned)))


def visible_exams(user: Principal) -> Select[Exam]:
    query = select(Exam).order_by(Exam.id)
    return query if user.is_admin else query.where(Exam.id.in_(_visible_exam_ids(user)))


def visible_slides(user: Principal) -> Select[Slide]:
    query = select(Slide).order_by(Slide.id)
    return query if user.is_admin else query.where(Slide.exam_id.in_(_visible_exam_ids(user)))


def visible_patients(user: Principal) -> Select[Patient]:
    query = select(Patient).order_by(Patient.patient_code, Patient.id)  # as people look them up
    if user.is_admin:
        return query
    through_exams = select(Exam.patient_id).where(Exam.id.in_(_visible_exam_ids(user)))
    return query.where(or_(Patient.created_by_id == user.user_id, Patient.id.in_(through_exams)))
