"""Jobs on Celery workers (issue 19; SPEC E7), with a broker such as Redis between the API
servers and any number of worker processes on any number of machines.

The database stays the record of every job (state, progress, result), exactly as with the
server's own threads, so the API, the browser and the CLI see jobs the same way. The broker
only carries "run job N": the API side's ``CeleryDispatcher`` sends each queued job to the
queue of its kind (``interactive``, ``analysis``, ``storage``) and sends it again when it is
still queued ``job_redispatch_seconds`` later (a broker restarted without its data, a
message lost); a worker claims the job in the database before running it, so a message
delivered twice runs once. Messages are acknowledged only when the job has ended
(``acks_late``), and a worker that dies mid-job stops beating its heartbeat: the dispatcher
queues the job again and another worker finishes it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from pathodesk.config import Settings
from pathodesk.db.models import Job, JobState, utcnow
from pathodesk.db.session import Database
from pathodesk.jobs import queue
from pathodesk.jobs.context import JobContext
from pathodesk.jobs.kinds import JobKind, handlers
from pathodesk.jobs.worker import run_claimed, take

log = logging.getLogger(__name__)

RUN_JOB = "pathodesk.run_job"
QUEUES = ("interactive", "analysis", "storage")


def celery_app(settings: Settings) -> Any:
    from celery import Celery

    if not settings.broker_url:
        raise ValueError("PATHODESK_BROKER_URL is needed with PATHODESK_JOB_BACKEND=celery")
    app = Celery("pathodesk", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,  # a job's message is acknowledged when the job has ended
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds one job at a time per slot
        task_default_queue="analysis",
        task_ignore_result=True,  # results live in the database
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # a worker takes from its queues in the order named: interactive first (E7)
        broker_transport_options={"queue_order_strategy": "priority"},
    )
    return app


def queue_of(job: Job, kinds: dict[str, JobKind]) -> str:
    if job.interactive:
        return "interactive"
    kind = kinds.get(job.kind)
    return kind.queue if kind is not None else "analysis"


class CeleryDispatcher:
    """In each API server, in place of the worker threads: sends queued jobs to the broker and
    queues again the jobs whose worker died."""

    def __init__(self, db: Database, settings: Settings, kinds: Iterable[JobKind], poll_seconds: float = 0.5):
        self.db, self.settings, self.poll_seconds = db, settings, poll_seconds
        self.kinds = {kind.name: kind for kind in kinds}
        self.app = celery_app(settings)
        self._stopping, self._wake = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="job-dispatcher")

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.dispatch()
            except Exception:  # a broker or database that is down: tried again next round
                log.exception("job dispatcher: sending jobs failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def dispatch(self) -> int:
        """Send every queued job not sent yet (or not taken since ``job_redispatch_seconds``)."""
        with self.db.session() as session:
            queue.requeue_stale(session, timedelta(seconds=self.settings.job_stale_seconds))
        resend_before = utcnow() - timedelta(seconds=self.settings.job_redispatch_seconds)
        with self.db.session() as session:
            waiting = list(
                session.scalars(
                    select(Job)
                    .where(
                        Job.state == JobState.queued,
                        or_(Job.dispatched_at.is_(None), Job.dispatched_at < resend_before),
                    )
                    .order_by(Job.interactive.desc(), Job.priority.desc(), Job.id)
                    .limit(200)
                )
            )
            for job in waiting:
                self.app.send_task(RUN_JOB, args=[job.id], queue=queue_of(job, self.kinds), priority=None)
                session.execute(update(Job).where(Job.id == job.id).values(dispatched_at=utcnow()))
                session.commit()
        return len(waiting)


def worker_app(
    settings: Settings, db: Database, kinds: Iterable[JobKind], queues: Iterable[str] = QUEUES
) -> Any:
    """The Celery application a ``pathodesk worker`` process runs, with its one task. A batch
    job here gives way to a waiting interactive job only if this worker takes those."""
    app = celery_app(settings)
    serves_interactive = "interactive" in set(queues)
    table = handlers(kinds)
    identity = f"celery-{socket.gethostname()}-{os.getpid()}"

    @app.task(name=RUN_JOB)
    def run_job(job_id: int) -> str:
        """Interactive jobs waiting in the database first, whatever queue this message came
        from (E7), then the job the message names."""
        worker = f"{identity}-{threading.get_ident() % 100000}"

        def claimed(job_id: int | None = None) -> tuple[str, JobContext] | None:
            return take(
                db, settings, worker, job_id, interactive_only=True, serves_interactive=serves_interactive
            )

        while serves_interactive and (waiting := claimed()) is not None:
            run_claimed(db, settings, table, worker, *waiting)
        taken = claimed(job_id)
        return "not queued" if taken is None else run_claimed(db, settings, table, worker, *taken).value

    return app
