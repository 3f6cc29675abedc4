"""Servers sharing one database all wake at the storage policy's hour (SPEC E5, issue 19): the
night's moves are planned once and one storage job is queued, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from pathodesk.db.locks import take_lock
from pathodesk.db.models import Job, NamedLock, StorageMove
from pathodesk.lifecycle.nightly import run_night
from pathodesk.lifecycle.schedule import STORAGE_JOB
from tests.storage.library import Library, days_ago
from tests.support.races import meanwhile


@pytest.fixture
def library(library_on_each_database: Library) -> Library:
    return library_on_each_database


def test_servers_waking_together_plan_each_move_once_and_queue_one_job(library: Library) -> None:
    """The second server starts its night just after the first has looked at the moves under
    way; without the planning lock both plan every file and both queue a storage job."""
    exam = library.exam(admitted=days_ago(3))
    for _ in range(3):
        library.slide(exam)
    library.discharge(exam, days_ago(1))
    with meanwhile(  # this server has looked at the moves under way
        library.db.engine,
        lambda sql: "storage_moves" in sql,
        lambda: run_night(library.db, library.settings),
    ) as other_nights:
        night = run_night(library.db, library.settings)
    assert sorted([night["planned_moves"], other_nights[0]["planned_moves"]]) == [0, 3]
    assert night["job_id"] == other_nights[0]["job_id"]
    with library.db.session() as session:
        assert session.scalar(select(func.count()).select_from(StorageMove)) == 3
        assert session.scalar(select(func.count()).select_from(Job).where(Job.kind == STORAGE_JOB)) == 1


def test_the_night_forgets_the_rows_of_locks_nobody_took_for_a_day(library: Library) -> None:
    with library.db.session() as session:
        take_lock(session, "stored-file:ab/old.svs")
        take_lock(session, "stored-file:cd/recent.svs")
        session.commit()
    old, recent = (
        hashlib.sha256(name.encode()).hexdigest()
        for name in ("stored-file:ab/old.svs", "stored-file:cd/recent.svs")
    )
    with library.db.session() as session:
        session.execute(
            update(NamedLock)
            .where(NamedLock.name == old)
            .values(locked_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert run_night(library.db, library.settings)["locks_forgotten"] == 1
    with library.db.session() as session:
        names = set(session.scalars(select(NamedLock.name)))
    assert recent in names and old not in names
