"""Storage and the slide life cycle (API.md: ``GET /api/v1/storage/report``,
``GET /api/v1/storage/stations``; SPEC E1, E4, E5): administrators see what is kept where,
apply the placement policy, scrub the mirror and back up the database now rather than at
night; whoever may see a case assigns it a reading station, which gets its high-resolution
images in advance."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, BackgroundTasks, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from pathodesk.audit import record_by
from pathodesk.jobs import queue
from pathodesk.lifecycle.backups import BACKUP_JOB
from pathodesk.lifecycle.distribute import DISTRIBUTE_JOB, DISTRIBUTE_PRIORITY, check_station, stations
from pathodesk.lifecycle.organize import organize_patient, safe_name
from pathodesk.lifecycle.schedule import SCRUB_JOB, apply_policy, submit_storage_job
from pathodesk.storage.report import storage_report
from pathodesk.web.access import may_see_exam
from pathodesk.web.deps import AdminUser, CurrentUser, DbSession, RecordId, StateDep
from pathodesk.web.route_helpers import start_queued, visible_exam, visible_patient

router = APIRouter(prefix="/api/v1", tags=["storage"])


class PolicyRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False


class StationChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station: str | None = Field(default=None, max_length=64)


@router.get("/storage/report")
def report(_admin: AdminUser, session: DbSession, state: StateDep) -> dict[str, object]:
    return storage_report(session, state.settings)


@router.post("/storage/apply-policy")
def run_policy(
    body: PolicyRun, admin: AdminUser, session: DbSession, state: StateDep, response: Response
) -> dict[str, object]:
    """Plan the moves the records call for (and with ``dry_run`` only say which); the moves
    run as the lowest-priority job, when nothing else waits."""
    plan = apply_policy(state.db, state.settings, dry_run=body.dry_run)
    if not body.dry_run:
        plan["job_id"] = submit_storage_job(session, user_id=admin.user_id)
        record_by(session, admin, "apply-policy", "storage", None, planned=plan["planned_moves"])
        start_queued(session, state)
        response.status_code = 202
    return plan


@router.post("/storage/scrub", status_code=202)
def run_scrub(admin: AdminUser, session: DbSession, state: StateDep) -> dict[str, object]:
    job_id = submit_storage_job(session, SCRUB_JOB, user_id=admin.user_id)
    record_by(session, admin, "scrub", "storage", None, job_id=job_id)
    start_queued(session, state)
    return {"job_id": job_id}


@router.post("/storage/backup", status_code=202)
def run_backup(admin: AdminUser, session: DbSession, state: StateDep) -> dict[str, object]:
    """A copy of the database now, as a storage job (``pathodesk database backup`` does it
    from the command line)."""
    job_id = submit_storage_job(session, BACKUP_JOB, user_id=admin.user_id)
    record_by(session, admin, "backup", "database", None, job_id=job_id)
    start_queued(session, state)
    return {"job_id": job_id}


@router.get("/patients/{patient_id}/archive")
def patient_archive(
    patient_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep, cleanup: BackgroundTasks
) -> FileResponse:
    """E5 organize: every image of the patient the caller may see, in one zip with a manifest."""
    patient = visible_patient(session, user, patient_id)
    visible = {exam.id for exam in patient.exams if may_see_exam(user, exam)}
    folder = Path(tempfile.mkdtemp(prefix="archive-", dir=state.settings.cache_dir))
    out = folder / f"{safe_name(patient.patient_code)}.zip"
    try:
        organize_patient(state.db, state.settings, patient.id, out, visible)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    cleanup.add_task(shutil.rmtree, folder, ignore_errors=True)
    record_by(session, user, "export", "patient", patient.id, count=len(visible))
    session.commit()
    return FileResponse(out, media_type="application/zip", filename=out.name)


@router.get("/storage/stations")
def list_stations(_user: CurrentUser, session: DbSession, state: StateDep) -> list[dict[str, object]]:
    return stations(session, state.settings)


@router.put("/exams/{exam_id}/station")
def choose_station(
    exam_id: RecordId, body: StationChoice, user: CurrentUser, session: DbSession, state: StateDep
) -> dict[str, object]:
    """Assign (or clear) the case's reading station; assigning sends its images there."""
    exam = visible_exam(session, user, exam_id)
    check_station(state.settings, body.station)
    exam.reading_station = body.station
    job_id = None
    if body.station is not None:
        job = queue.submit(
            session,
            DISTRIBUTE_JOB,
            None,
            {"exam_id": exam.id},
            user_id=user.user_id,
            priority=DISTRIBUTE_PRIORITY,
        )
        job_id = job.id
    record_by(session, user, "assign-station", "exam", exam.id, station=body.station)
    start_queued(session, state)
    return {"exam_id": exam.id, "station": body.station, "job_id": job_id}
