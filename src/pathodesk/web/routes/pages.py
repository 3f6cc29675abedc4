"""Server-rendered pages; data-heavy parts call the JSON API from the browser."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from pathodesk.analysis.results import read_summary
from pathodesk.analysis.section_classify import last_classification
from pathodesk.db.models import DiseaseType, Exam, Patient, Role, User, utcnow
from pathodesk.errors import NotFoundError
from pathodesk.i18n import supported
from pathodesk.lifecycle.distribute import stations
from pathodesk.lifecycle.schedule import apply_policy
from pathodesk.ml.registry import active_model, is_weak
from pathodesk.qc.colour_reference import report_key, report_stain
from pathodesk.stain.kind import HE, STAINS, other_stain
from pathodesk.storage.report import storage_report
from pathodesk.web.access import may_see_exam, visible_exams
from pathodesk.web.access_log import note_opened
from pathodesk.web.case_report import case_report, slides_in_order
from pathodesk.web.deps import AdminPageUser, DbSession, PageUser, RecordId, StateDep
from pathodesk.web.i18n import remember_locale
from pathodesk.web.redirects import safe_next
from pathodesk.web.route_helpers import visible_exam, visible_patient, visible_slide
from pathodesk.web.routes.admin import audit_log
from pathodesk.web.routes.admin import to_public as to_public_disease_type
from pathodesk.web.routes.models import list_models
from pathodesk.web.routes.models import to_public as to_public_model
from pathodesk.web.routes.qc import colour_reference_public, qc_summary
from pathodesk.web.routes.records import list_patients
from pathodesk.web.routes.sections import list_groups, read_group
from pathodesk.web.routes.slides import to_detail, to_public
from pathodesk.web.routes.users import list_users
from pathodesk.web.templating import templates
from pathodesk.web.worklist import PER_PAGE, SORTS, WorklistQuery, run_worklist, worklist_params

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, state: StateDep, next: str | None = None, lang: str | None = None
) -> Response:
    """``next`` (where the login was asked for) is checked here, not in the browser; ``lang``
    is the language switch before anyone has logged in (the login stores it on the account)."""
    chosen = supported(lang)
    if chosen:
        request.state.locale = chosen  # this page already in the chosen language
    response = templates.TemplateResponse(request, "login.html", {"user": None, "next_path": safe_next(next)})
    if chosen:
        remember_locale(response, chosen, state.settings.secure_cookies)
    return response


@router.get("/", response_class=HTMLResponse)
def slide_list_page(
    request: Request,
    user: PageUser,
    session: DbSession,
    wanted: Annotated[WorklistQuery, Depends(worklist_params)],
) -> Response:
    """The worklist (issue 21, item 6): the API's search, filters and sort, a page of cards."""
    found = run_worklist(session, user, replace(wanted, per_page=PER_PAGE))

    def page_url(page: int) -> str:
        return "?" + str(request.url.include_query_params(page=page).query)

    context = {
        "user": user,
        "slides": [to_public(s) for s in found.slides],
        "found": found,
        "wanted": wanted,
        "disease_types": _disease_types(session),
        "sorts": SORTS,
        "previous_url": page_url(found.page - 1) if found.page > 1 else None,
        "next_url": page_url(found.page + 1) if found.page < found.pages else None,
    }
    return templates.TemplateResponse(request, "slides.html", context)


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, user: PageUser, session: DbSession, exam_id: int | None = None) -> Response:
    exams = list(session.scalars(visible_exams(user).order_by(None).order_by(Exam.id.desc())))
    context = {
        "user": user,
        "exams": exams,
        "selected_exam": exam_id,
        "disease_types": _disease_types(session),
    }
    return templates.TemplateResponse(request, "upload.html", context)


def _disease_types(session: DbSession) -> list[DiseaseType]:
    return list(session.scalars(select(DiseaseType).where(DiseaseType.active).order_by(DiseaseType.name)))


def _printable(text: str | None, limit: int = 128) -> str | None:
    """Page search boxes: the same text rule as the API's SearchQuery, without the 422."""
    cleaned = "".join(ch for ch in (text or "") if ch.isprintable())[:limit]
    return cleaned or None


@router.get("/patients", response_class=HTMLResponse)
def patients_page(request: Request, user: PageUser, session: DbSession, q: str | None = None) -> Response:
    patients = list_patients(user, session, q=_printable(q))
    rows = [session.get(Patient, p.id) for p in patients]
    return templates.TemplateResponse(request, "patients.html", {"user": user, "patients": rows, "q": q})


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    patient_id: RecordId, request: Request, user: PageUser, session: DbSession, state: StateDep
) -> Response:
    patient = visible_patient(session, user, patient_id)
    note_opened(state, session, user, "patient", patient.id)
    exams = [e for e in patient.exams if may_see_exam(user, e)]
    context = {"user": user, "patient": patient, "exams": exams, "disease_types": _disease_types(session)}
    return templates.TemplateResponse(request, "patient.html", context)


@router.get("/exams/{exam_id}", response_class=HTMLResponse)
def exam_page(
    exam_id: RecordId, request: Request, user: PageUser, session: DbSession, state: StateDep
) -> Response:
    exam = visible_exam(session, user, exam_id)
    note_opened(state, session, user, "exam", exam.id)
    experts = list(
        session.scalars(select(User).where(User.role == Role.expert, User.active).order_by(User.name))
    )
    everyone = {u.id: u for u in session.scalars(select(User))}
    context = {
        "user": user,
        "exam": exam,
        "section_groups": list_groups(exam.id, user, session),
        "disease_types": _disease_types(session),
        "experts": experts,
        "experts_by_id": everyone,
        "stations": stations(session, state.settings),
    }
    return templates.TemplateResponse(request, "exam.html", context)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, user: AdminPageUser, session: DbSession, q: str | None = None) -> Response:
    users = list_users(user, session, q=_printable(q))
    return templates.TemplateResponse(request, "admin_users.html", {"user": user, "users": users, "q": q})


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(user_id: RecordId, request: Request, user: AdminPageUser, session: DbSession) -> Response:
    subject = session.get(User, user_id)
    if subject is None:
        raise NotFoundError("user %(user_id)s does not exist", user_id=user_id)
    return templates.TemplateResponse(request, "admin_user.html", {"user": user, "subject": subject})


@router.get("/admin/disease-types", response_class=HTMLResponse)
def disease_types_page(request: Request, user: AdminPageUser, session: DbSession) -> Response:
    disease_types = [
        to_public_disease_type(d) for d in session.scalars(select(DiseaseType).order_by(DiseaseType.name))
    ]
    return templates.TemplateResponse(
        request, "admin_disease_types.html", {"user": user, "disease_types": disease_types}
    )


@router.get("/admin/storage", response_class=HTMLResponse)
def storage_page(request: Request, user: AdminPageUser, session: DbSession, state: StateDep) -> Response:
    """E1, E4, E5: what is kept per tier against what the scans would take, what the placement
    policy would move (a dry run: one query), the mirror's last check, the database's backups,
    the reading stations."""
    report = storage_report(session, state.settings)
    scrub = report["mirror"].get("last_scrub")  # type: ignore[attr-defined]
    scrubbed = scrub["finished_at"] if scrub else None
    newest_backup = report["database_backups"].get("newest")  # type: ignore[attr-defined]
    context = {
        "user": user,
        "report": report,
        "plan": apply_policy(state.db, state.settings, dry_run=True),
        "stations": stations(session, state.settings),
        "long_term_days": state.settings.long_term_after_days,
        "scrub_time": datetime.fromisoformat(scrubbed) if scrubbed else None,
        "backup_time": datetime.fromisoformat(newest_backup["taken_at"]) if newest_backup else None,
    }
    return templates.TemplateResponse(request, "admin_storage.html", context)


@router.get("/exams/{exam_id}/report", response_class=HTMLResponse)
def case_report_page(
    exam_id: RecordId, request: Request, user: PageUser, session: DbSession, state: StateDep
) -> Response:
    """The case's report, to read and to print (A11, A13): what was signed off, per slide."""
    exam = visible_exam(session, user, exam_id)
    note_opened(state, session, user, "exam", exam.id, action="open-report")
    context = {
        "user": user,
        "report": case_report(session, state.settings, exam),
        "institution": state.settings.institution,
        "printed_at": utcnow(),
    }
    return templates.TemplateResponse(request, "case_report.html", context)


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, user: PageUser, session: DbSession, state: StateDep) -> Response:
    models = [to_public_model(state.settings, m) for m in list_models(session)]
    context = {"user": user, "models": models}
    return templates.TemplateResponse(request, "models.html", context)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    user: AdminPageUser,
    session: DbSession,
    actor: str | None = None,
    action: str | None = None,
    record_type: str | None = None,
    record_id: str | None = None,
) -> Response:
    """``record_type`` and ``record_id`` together answer "who opened or changed this record"."""
    filters = {"actor": actor, "action": action, "record_type": record_type, "record_id": record_id}
    clipped = {key: _printable(value, 32) for key, value in filters.items()}
    events = audit_log(
        user,
        session,
        actor=clipped["actor"],
        action=clipped["action"],
        record_type=clipped["record_type"],
        record_id=clipped["record_id"],
    )
    return templates.TemplateResponse(
        request, "admin_audit.html", {"user": user, "events": events, "filters": filters}
    )


@router.get("/slides/{slide_id}", response_class=HTMLResponse)
def viewer_page(
    slide_id: RecordId, request: Request, user: PageUser, session: DbSession, state: StateDep
) -> Response:
    slide = visible_slide(session, user, slide_id)
    note_opened(state, session, user, "slide", slide.id)
    siblings = slides_in_order(slide.exam)
    place = siblings.index(slide)
    model = active_model(session, slide.exam.disease_type)  # A3: the type picks the model
    cascade = [active_model(session, slide.exam.disease_type, role) for role in ("fine", "coarse")]
    context = {
        "user": user,
        "slide": to_detail(state, slide),
        "qc": qc_summary(state.settings, slide),
        "model": model,
        "model_weak": model is not None and is_weak(model.metrics),
        "analysed": read_summary(state.settings, slide) is not None,  # no 404 asked for in vain
        # C1–C4: a cascade needs both stages' models
        "cascade_ready": all(cascade),
        "cascade_weak": any(m is not None and is_weak(m.metrics) for m in cascade),
        "other_stain": other_stain(
            report_stain(slide.qc_report), [m.card.get("stain") for m in (model, *cascade) if m]
        ),
        "step": {
            "place": place + 1,
            "count": len(siblings),
            "previous": siblings[place - 1] if place > 0 else None,
            "next": siblings[place + 1] if place + 1 < len(siblings) else None,
        },
    }
    return templates.TemplateResponse(request, "viewer.html", context)


@router.get("/section-groups/{group_id}", response_class=HTMLResponse)
def section_group_page(group_id: RecordId, request: Request, user: PageUser, session: DbSession) -> Response:
    """Serial sections side by side, navigation linked through their transforms (D1, D2)."""
    group = read_group(group_id, user, session)
    exam = session.get(Exam, group.exam_id)
    slides = {member.slide_id: visible_slide(session, user, member.slide_id) for member in group.slides}
    assert exam is not None
    fusion = active_model(session, exam.disease_type, "fusion")
    stains = fusion.card.get("stains", []) if fusion is not None else []
    context = {
        "user": user,
        "group": group,
        "exam": exam,
        "slides": slides,
        "fusion": fusion,
        "fusion_stains": stains,
        "last_classification": last_classification(session, group.id, group.reference_slide_id),
    }
    return templates.TemplateResponse(request, "section_group.html", context)


@router.get("/slides/{slide_id}/qc", response_class=HTMLResponse)
def qc_report_page(
    slide_id: RecordId, request: Request, user: PageUser, session: DbSession, state: StateDep
) -> Response:
    slide = visible_slide(session, user, slide_id)
    qc = qc_summary(state.settings, slide)
    stain = qc.stain if qc.stain in STAINS else HE
    reference = colour_reference_public(session, state.settings, stain)
    context = {
        "user": user,
        "slide": to_public(slide),
        "qc": qc,
        "colour_reference": reference,
        # the reference changed since (the recheck job has not reached this slide yet)
        "checked_against_earlier": qc.checked and report_key(slide.qc_report) != reference.key,
    }
    return templates.TemplateResponse(request, "qc_report.html", context)
