"""Worker threads in the server process (issue 7, item 3).

``job_workers`` threads take any job, interactive ones first, then by priority;
``interactive_workers`` more threads only take interactive jobs, so a long batch of analyses
never makes a request a user waits for wait (E7 reserved capacity). While a handler runs, a
ticker beats the job's heartbeat and picks up a cancel request.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from pathodesk.config import Settings
from pathodesk.db.models import Job, JobState
from pathodesk.db.session import Database
from pathodesk.errors import Cancelled
from pathodesk.i18n import N_
from pathodesk.jobs import queue
from pathodesk.jobs.context import JobContext
from pathodesk.jobs.kinds import Handler, JobKind, handlers

log = logging.getLogger(__name__)

GAVE_WAY = N_("paused for interactive work; resumes where it stopped")
PROGRESS_EVERY = 0.5  # seconds between looks at a running job's progress


def beat_interval(stale_seconds: float) -> float:
    """Seconds between heartbeats: at most ``queue.HEARTBEAT`` and a quarter of the stale
    limit, so a live job on a busy machine (a late thread, a locked database) keeps
    three beats of slack before another worker may take it as dead."""
    return min(queue.HEARTBEAT.total_seconds(), stale_seconds / 4)


class Workers(Protocol):
    """What runs the queued jobs of a server: its own threads, or a dispatcher to Celery."""

    def start(self) -> None: ...
    def wake(self) -> None: ...
    def stop(self, timeout: float = 10.0) -> None: ...
    def alive(self) -> bool: ...


class WorkerPool:
    def __init__(self, db: Database, settings: Settings, kinds: Iterable[JobKind], poll_seconds: float = 0.5):
        self.db = db
        self.settings = settings
        self.handlers = handlers(kinds)
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._identity = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._running: set[str] = set()  # this pool's threads with a job: alive, whatever their heartbeat

    def start(self) -> None:
        slots = [False] * max(0, self.settings.job_workers) + [True] * self.settings.interactive_workers
        for index, interactive_only in enumerate(slots):
            thread = threading.Thread(
                target=self._loop,
                args=(f"{self._identity}-{index}", interactive_only),
                daemon=True,
                name=f"job-worker-{index}",
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def alive(self) -> bool:
        """Every thread started is still running (none configured: nothing to run)."""
        return not self._stopping.is_set() and all(thread.is_alive() for thread in self._threads)

    def _loop(self, worker: str, interactive_only: bool) -> None:
        while not self._stopping.is_set():
            try:
                with self.db.session() as session:
                    stale_after = timedelta(seconds=self.settings.job_stale_seconds)
                    queue.requeue_stale(session, stale_after, alive=set(self._running))
                claimed = take(self.db, self.settings, worker, interactive_only=interactive_only)
                if claimed is not None:
                    self._running.add(worker)
                    try:
                        run_claimed(self.db, self.settings, self.handlers, worker, *claimed)
                    finally:
                        self._running.discard(worker)
                    continue
            except Exception:  # the loop must survive a database hiccup
                log.exception("job worker %s: polling failed", worker)
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


def context_of(job: Job, db: Database, settings: Settings, worker: str) -> JobContext:
    return JobContext(
        job.id,
        job.slide_id,
        dict(job.params),
        job.created_by_id,
        db,
        settings,
        interactive=job.interactive,
        worker=worker,
        checkpoint=job.checkpoint,
    )


def take(
    db: Database,
    settings: Settings,
    worker: str,
    job_id: int | None = None,
    *,
    interactive_only: bool = False,
    serves_interactive: bool = True,
) -> tuple[str, JobContext] | None:
    """A queued job claimed for ``worker`` — ``job_id``, else the first in queue order — as
    its kind and context; None when the queue is empty or the job is no longer queued
    (another worker has it, or it ended: a message delivered twice runs once)."""
    with db.session() as session:
        if job_id is None:
            job = queue.claim_next(session, worker, interactive_only)
        else:
            job = queue.claim(session, job_id, worker)
        if job is None:
            return None
        context = context_of(job, db, settings, worker)
        context.serves_interactive = serves_interactive
        return job.kind, context


def run_claimed(
    db: Database, settings: Settings, table: dict[str, Handler], worker: str, kind: str, context: JobContext
) -> JobState:
    """Run a job this worker claimed, with its ticker, and record how it ended: the same for the
    server's threads and for Celery workers (``jobs.celery_backend``)."""
    done = threading.Event()
    ticker = threading.Thread(target=_tick, args=(db, settings, worker, context, done), daemon=True)
    ticker.start()
    state, result, error = JobState.failed, None, None
    try:
        handler = table.get(kind)
        if handler is None:
            raise ValueError(f"no handler for jobs of kind {kind!r}")
        result = handler(context)
        state = JobState.succeeded
    except Cancelled:
        state = JobState.queued if context.yielding else JobState.cancelled
    except Exception as exc:
        log.warning("job %s (%s) failed: %s", context.job_id, kind, type(exc).__name__)
        error = str(exc)[:2000] or type(exc).__name__
    finally:
        done.set()
        ticker.join()
    with db.session() as session:
        if state == JobState.queued:  # gave way to interactive work; resumes from its checkpoint
            queue.give_way(session, context.job_id, worker, GAVE_WAY)
        else:
            queue.finish(session, context.job_id, worker, state, result=result, error=error)
    return state


def _tick(db: Database, settings: Settings, worker: str, context: JobContext, done: threading.Event) -> None:
    """Progress reaches the database within ``PROGRESS_EVERY`` of changing, so a browser
    watching the job sees it move; unchanged, only the heartbeat is written."""
    written: tuple[float, str | None] | None = None
    last_beat = time.monotonic()
    every = beat_interval(settings.job_stale_seconds)
    while not done.wait(min(PROGRESS_EVERY, every)):
        now, state = time.monotonic(), (context.progress, context.message)
        if state == written and now - last_beat < every:
            continue
        try:
            with db.session() as session:
                if not queue.beat(session, context.job_id, worker, *state):
                    context.stop.set()
            written, last_beat = state, now
        except Exception:
            log.exception("job %s: heartbeat failed", context.job_id)
