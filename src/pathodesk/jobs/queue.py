"""The job queue lives in the database, so jobs outlive the process that runs them.

Claiming is a conditional UPDATE (queued -> running) that only one worker can win; a
running job's worker beats ``heartbeat_at``; a job whose heartbeat is older than
``Settings.job_stale_seconds`` lost its process and is queued again (recovery after a crash or kill -9).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from pathodesk.db.models import Job, JobState, utcnow
from pathodesk.errors import ConflictError

HEARTBEAT = timedelta(seconds=2)
MAX_ATTEMPTS = 3
FINISHED = (JobState.succeeded, JobState.failed, JobState.cancelled)


def submit(
    session: Session,
    kind: str,
    slide_id: int | None,
    params: dict[str, object],
    *,
    user_id: int | None,
    priority: int = 0,
    interactive: bool = False,
) -> Job:
    job = Job(
        kind=kind,
        slide_id=slide_id,
        params=params,
        state=JobState.queued,
        priority=priority,
        interactive=interactive,
        progress=0.0,
        attempts=0,
        cancel_requested=False,
        created_by_id=user_id,
    )
    session.add(job)
    session.flush()
    return job


def requeue_stale(
    session: Session, stale_after: timedelta, now: datetime | None = None, *, alive: Collection[str] = ()
) -> int:
    """Running jobs whose worker stopped beating go back to the queue (or fail after
    MAX_ATTEMPTS, so that a job that kills its worker every time does not loop forever).
    ``alive`` names workers the caller knows to be running their job (its own threads): a late
    heartbeat (a busy machine, a locked database) never takes a job from them.

    Each change is one conditional UPDATE, not a read then a write: when two workers look for
    stale jobs at once and one of them requeues and claims a job first, its fresh heartbeat
    keeps the other's write from taking the job back (the job would run twice)."""
    limit = (now or datetime.now(UTC)) - stale_after
    stale = [Job.state == JobState.running, Job.heartbeat_at < limit]
    if alive:
        stale.append(or_(Job.worker.is_(None), Job.worker.not_in(list(alive))))
    gave_up = (
        update(Job)
        .where(*stale, Job.attempts >= MAX_ATTEMPTS)
        .values(state=JobState.failed, error="its worker stopped (crash?) too often", finished_at=utcnow())
    )
    requeued = (
        update(Job)
        .where(*stale, Job.attempts < MAX_ATTEMPTS)
        .values(
            state=JobState.queued,
            worker=None,
            message="requeued after its worker stopped",
            dispatched_at=None,  # to be sent to a worker again at once
        )
    )
    fetch = {"synchronize_session": "fetch"}  # objects already in the session see the change
    results = [session.execute(change, execution_options=fetch) for change in (gave_up, requeued)]
    return sum(result.rowcount for result in results)  # type: ignore[attr-defined]


def claim(session: Session, job_id: int, worker: str) -> Job | None:
    """This queued job, now running for ``worker``; None when another worker has it (a message
    delivered twice runs once) or it is no longer queued."""
    now = utcnow()
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.queued)
        .values(
            state=JobState.running,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            attempts=Job.attempts + 1,
            error=None,
        )
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return None
    session.commit()
    return session.get(Job, job_id, populate_existing=True)


def claim_next(session: Session, worker: str, interactive_only: bool = False) -> Job | None:
    """The first queued job, now running for ``worker``: interactive ones first (E7), then by
    priority (storage jobs have the lowest), then oldest; None when the queue is empty."""
    query = select(Job.id).where(Job.state == JobState.queued)
    if interactive_only:
        query = query.where(Job.interactive.is_(True))
    order = (Job.interactive.desc(), Job.priority.desc(), Job.id)
    for job_id in list(session.scalars(query.order_by(*order).limit(5))):
        job = claim(session, job_id, worker)
        if job is not None:
            return job
    return None


def interactive_waiting(session: Session, longer_than: timedelta) -> bool:
    """Whether an interactive job has been queued longer than its reserved workers take to
    start one: they are all busy, so batch work should give way (E7 preemption)."""
    since = utcnow() - longer_than
    waiting = select(Job.id).where(
        Job.state == JobState.queued, Job.interactive.is_(True), Job.created_at <= since
    )
    return session.scalars(waiting.limit(1)).first() is not None


def save_checkpoint(session: Session, job_id: int, worker: str, checkpoint: dict[str, object]) -> None:
    session.execute(update(Job).where(Job.id == job_id, Job.worker == worker).values(checkpoint=checkpoint))
    session.commit()


def give_way(session: Session, job_id: int, worker: str, message: str) -> None:
    """Back to the queue after yielding to interactive work (E7), its checkpoint and progress
    kept; a yield is not an attempt (only crashes count towards ``MAX_ATTEMPTS``)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.running)
        .values(
            state=JobState.queued,
            worker=None,
            dispatched_at=None,
            yields=Job.yields + 1,
            attempts=Job.attempts - 1,
            message=message,
        )
    )
    session.commit()


def beat(session: Session, job_id: int, worker: str, progress: float, message: str | None) -> bool:
    """Record progress; False when the job was cancelled or taken from this worker."""
    values: dict[str, object] = {"heartbeat_at": utcnow(), "progress": progress}
    if message is not None:
        values["message"] = message[:256]
    changed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.running)
        .values(**values)
    )
    session.commit()
    job = session.get(Job, job_id, populate_existing=True)
    return bool(changed.rowcount) and job is not None and not job.cancel_requested  # type: ignore[attr-defined]


def finish(
    session: Session,
    job_id: int,
    worker: str,
    state: JobState,
    *,
    result: dict[str, object] | None = None,
    error: str | None = None,
) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.running)
        .values(
            state=state,
            result=result,
            error=error,
            finished_at=utcnow(),
            progress=1.0 if state == JobState.succeeded else Job.progress,
            checkpoint=None,
        )
    )
    session.commit()


def cancel(session: Session, job: Job) -> Job:
    """Queued jobs stop at once; a running one stops at its next batch."""
    if job.state in FINISHED:
        raise ConflictError("job %(id)s already %(value)s", id=job.id, value=job.state.value)
    job.cancel_requested = True
    if job.state == JobState.queued:
        job.state, job.finished_at = JobState.cancelled, utcnow()
    for part in session.scalars(select(Job).where(Job.parent_id == job.id, Job.state.not_in(FINISHED))):
        cancel(session, part)  # the parts of a split analysis stop with it
    return job


def retry(session: Session, job: Job) -> Job:
    if job.state not in (JobState.failed, JobState.cancelled):
        raise ConflictError(
            "only failed or cancelled jobs can be retried; job %(id)s is %(value)s",
            id=job.id,
            value=job.state.value,
        )
    job.state, job.cancel_requested, job.error, job.progress = JobState.queued, False, None, 0.0
    job.worker, job.finished_at, job.attempts, job.dispatched_at = None, None, 0, None
    job.checkpoint = None
    return job
