"""Split, parallel, stitch (issue 19; SPEC E7): a job runs as parts — child jobs (``parent_id``)
that any worker may take — and gets their results back in order to merge them.

The job that split its work runs parts too, so a lone worker never waits for itself; it only
waits for parts other workers are running. A part whose worker died is queued again by the
usual heartbeat check and taken by whoever is free. A resumed parent finds the parts it made
before; cancelling it cancels them (``queue.cancel``); once merged, their rows go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from pathodesk.db.models import Job, JobState
from pathodesk.errors import Cancelled
from pathodesk.jobs import queue
from pathodesk.jobs.context import JobContext
from pathodesk.jobs.kinds import Handler
from pathodesk.jobs.worker import run_claimed, take

WAIT_SECONDS = 0.2


class PartFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class PartResult:
    result: dict[str, Any]
    worker: str  # who ran it


def run_parts(
    context: JobContext,
    kind: str,
    params: Sequence[dict[str, Any]],
    run_part: Handler,
    progress: Callable[[float], object],
) -> list[PartResult]:
    """Each part's result, in the order of ``params`` (one part per entry)."""
    part_ids = _parts(context, kind, params)
    context.resumable = True  # its parts are its checkpoint
    while True:
        if context.should_stop():
            if not context.yielding:
                _cancel(context, part_ids)
            raise Cancelled("cancelled")
        with context.db.session() as session:
            states = session.execute(
                select(Job.id, Job.state, Job.progress, Job.error)
                .where(Job.id.in_(part_ids))
                .order_by(Job.id)
            ).all()
            progress(sum(row.progress for row in states) / len(states))
            failed = next((row for row in states if row.state in (JobState.failed, JobState.cancelled)), None)
            if failed is not None:
                raise PartFailed(f"part {failed.id} {failed.state.value}: {failed.error or ''}".strip())
            if all(row.state == JobState.succeeded for row in states):
                done = list(session.scalars(select(Job).where(Job.id.in_(part_ids)).order_by(Job.id)))
                results = [PartResult(dict(job.result or {}), job.worker or "") for job in done]
                for job in done:
                    session.delete(job)  # their work is in the parent's result now
                session.commit()
                return results
            waiting = [row.id for row in states if row.state == JobState.queued]
        part = next((claimed for job_id in waiting if (claimed := _take(context, job_id))), None)
        if part is None:
            time.sleep(WAIT_SECONDS)  # the parts left run on other workers
            continue
        run_claimed(context.db, context.settings, {kind: run_part}, context.worker, *part)


def _take(context: JobContext, job_id: int) -> tuple[str, JobContext] | None:
    """A part claimed by the worker running its parent, giving way as the parent would."""
    worker, serves = context.worker, context.serves_interactive
    return take(context.db, context.settings, worker, job_id, serves_interactive=serves)


def _parts(context: JobContext, kind: str, params: Sequence[dict[str, Any]]) -> list[int]:
    """The ids of this job's parts, in order, created on its first run."""
    with context.db.session() as session:
        found = list(session.scalars(select(Job.id).where(Job.parent_id == context.job_id).order_by(Job.id)))
        if len(found) == len(params):
            return found
        if found:
            raise PartFailed(f"job {context.job_id} has {len(found)} parts, not {len(params)}")
        parent = session.get(Job, context.job_id)
        priority = parent.priority if parent is not None else 0
        created = []
        for entry in params:
            part = queue.submit(
                session, kind, context.slide_id, dict(entry), user_id=context.user_id, priority=priority
            )
            part.parent_id = context.job_id
            created.append(part)
        session.commit()
        return [part.id for part in created]


def _cancel(context: JobContext, part_ids: list[int]) -> None:
    with context.db.session() as session:
        for part in session.scalars(select(Job).where(Job.id.in_(part_ids))):
            if part.state not in queue.FINISHED:
                queue.cancel(session, part)
        session.commit()
