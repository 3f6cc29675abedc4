"""The worker pool (issue 7, item 3): a running job's progress reaches the database as it
moves, not only with the heartbeat, so the browser's bar follows the work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from pathodesk.config import Settings
from pathodesk.db.models import Job, JobState
from pathodesk.db.session import Database
from pathodesk.jobs import queue
from pathodesk.jobs.context import JobContext
from pathodesk.jobs.kinds import JobKind
from pathodesk.jobs.worker import WorkerPool
from tests.support.accounts import Accounts
from tests.support.jobs import wait_for


def stored(db: Database, job_id: int) -> Job:
    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def settled(db: Database, job_id: int) -> Callable[[], Job | None]:
    """A check for ``wait_for``: the job once it has finished, however it ended."""

    def check() -> Job | None:
        job = stored(db, job_id)
        return job if job.state in (JobState.succeeded, JobState.failed, JobState.cancelled) else None

    return check


def test_progress_is_written_when_it_moves(
    settings: Settings, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "HEARTBEAT", queue.HEARTBEAT * 100)  # heartbeats alone: none during the test
    # the handler moves on only once the test has seen each step in the database
    steps = {0.25: threading.Event(), 0.75: threading.Event()}

    def probe(context: JobContext) -> dict[str, object]:
        context.report(0.25, "a quarter")
        steps[0.25].wait(30)
        context.report(0.75, "three quarters")
        steps[0.75].wait(30)
        return {"done": True}

    db = Database(settings.resolved_database_url())
    with db.session() as session:
        job_id = queue.submit(session, "probe", None, {}, user_id=accounts.expert_a_id).id
    pool = WorkerPool(db, settings, [JobKind("probe", probe)], poll_seconds=0.1)
    pool.start()
    try:
        seen: list[tuple[float, str | None]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            job = stored(db, job_id)
            if (job.progress, job.message) not in seen and job.state == JobState.running:
                seen.append((job.progress, job.message))
                if job.progress in steps:
                    steps[job.progress].set()
            if job.state == JobState.succeeded:
                break
            time.sleep(0.05)
        assert (0.25, "a quarter") in seen and (0.75, "three quarters") in seen, seen
        assert stored(db, job_id).state == JobState.succeeded
    finally:
        for step in steps.values():
            step.set()
        pool.stop()
        db.dispose()


def slow(context: JobContext) -> dict[str, object]:
    """Three seconds of work: several stale limits of the tests below."""
    time.sleep(3)
    return {"done": True}


def test_a_live_job_is_never_taken_as_dead_however_short_the_stale_limit(
    settings: Settings, accounts: Accounts
) -> None:
    """Heartbeats come at a quarter of the stale limit, so a job that runs for several
    limits (here 1 s against 3 s of work) keeps its worker and runs once."""
    settings.job_stale_seconds = 1
    settings.job_workers = 2  # idle workers keep looking for stale jobs meanwhile

    db = Database(settings.resolved_database_url())
    with db.session() as session:
        job_id = queue.submit(session, "slow", None, {}, user_id=accounts.expert_a_id).id
    pool = WorkerPool(db, settings, [JobKind("slow", slow)], poll_seconds=0.1)
    pool.start()
    try:
        job = wait_for(settled(db, job_id), 30)
        assert job.state == JobState.succeeded and job.attempts == 1, (job.state, job.attempts)
    finally:
        pool.stop()
        db.dispose()


def test_a_late_heartbeat_never_takes_a_job_from_a_live_thread_of_the_same_server(
    settings: Settings, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy machine or a locked database can hold a heartbeat past the stale limit; the
    server knows its own threads are alive, so only a job whose worker is gone (here one
    claimed by a server that was killed) goes back to the queue."""
    settings.job_stale_seconds = 1
    settings.job_workers = 2
    monkeypatch.setattr(queue, "beat", lambda *args: True)  # no heartbeat is ever written

    db = Database(settings.resolved_database_url())
    with db.session() as session:
        live = queue.submit(session, "slow", None, {}, user_id=accounts.expert_a_id).id
        orphan = queue.submit(session, "slow", None, {}, user_id=accounts.expert_a_id).id
        assert queue.claim(session, orphan, "a-killed-server-0") is not None
    pool = WorkerPool(db, settings, [JobKind("slow", slow)], poll_seconds=0.1)
    pool.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
            stored(db, job).state != JobState.succeeded for job in (live, orphan)
        ):
            time.sleep(0.1)
        assert (stored(db, live).state, stored(db, live).attempts) == (JobState.succeeded, 1)
        assert (stored(db, orphan).state, stored(db, orphan).attempts) == (JobState.succeeded, 2)
    finally:
        pool.stop()
        db.dispose()


def test_a_job_another_worker_requeued_and_claimed_is_not_taken_back_by_a_slower_look(
    settings: Settings, accounts: Accounts
) -> None:
    """Two workers find the same job stale at once (CI saw it run a third time): the one that
    writes first requeues and claims it; the slower one's write must then change nothing,
    because the claim's fresh heartbeat makes the job no longer stale."""
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        job_id = queue.submit(session, "slow", None, {}, user_id=accounts.expert_a_id).id
        dead = queue.claim(session, job_id, "a-killed-server-0")
        assert dead is not None
        dead.heartbeat_at = datetime.now(UTC) - timedelta(minutes=1)  # its server died a minute ago
    stale_after = timedelta(seconds=10)
    raced: list[str] = []

    def the_other_worker_gets_there_first(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if raced or not statement.lstrip().upper().startswith("UPDATE JOBS"):
            return
        raced.append(statement)
        with db.session() as other:  # another connection, as another worker thread would have
            assert queue.requeue_stale(other, stale_after) == 1
            assert queue.claim(other, job_id, "live-worker-1") is not None

    event.listen(db.engine, "before_cursor_execute", the_other_worker_gets_there_first)
    try:
        with db.session() as session:
            assert queue.requeue_stale(session, stale_after) == 0
        assert raced, "the other worker never ran between the look and the write"
        job = stored(db, job_id)
        assert (job.state, job.worker, job.attempts) == (JobState.running, "live-worker-1", 2)
    finally:
        event.remove(db.engine, "before_cursor_execute", the_other_worker_gets_there_first)
        db.dispose()
