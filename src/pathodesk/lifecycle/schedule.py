"""E5 schedule: the placement policy applied (moves planned, a discharged patient's generated
images dropped) and the planned moves carried out as the lowest-priority background job,
only while nothing else waits: a viewer waiting for a tile pauses it between files, and
queued analyses take its place (it queues itself again behind them).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathodesk.config import Settings
from pathodesk.db.locks import take_lock
from pathodesk.db.models import Job, JobState, MoveState, StorageMove
from pathodesk.db.session import Database
from pathodesk.i18n import N_
from pathodesk.jobs import queue
from pathodesk.jobs.context import JobContext
from pathodesk.jobs.priority import INTERACTIVE
from pathodesk.storage.mirror import scrub, sync_mirror
from pathodesk.storage.moves import (
    UNFINISHED,
    claim,
    finish_switched,
    pending_moves,
    plan_moves,
    recover,
    run_move,
)
from pathodesk.storage.policy import discharged_files, misplaced
from pathodesk.storage.report import TIER_NAMES
from pathodesk.storage.temporary import drop_generated

STORAGE_JOB = "storage"
SCRUB_JOB = "mirror-scrub"
STORAGE_PRIORITY = -100  # below every other job: moves run when the system is idle


def apply_policy(
    db: Database, settings: Settings, dry_run: bool = False, today: date | None = None
) -> dict[str, object]:
    """Plan a move for every misplaced file and drop discharged patients' generated images;
    with ``dry_run`` only say what would happen."""
    with db.session() as session:
        if not dry_run:  # servers that wake together plan one after the other: the later find it planned
            take_lock(session, "storage-plan")
        placements = misplaced(session, settings, today)
        discharged = discharged_files(session, settings, today)
        planned = placements if dry_run else plan_moves(session, placements)
        if not dry_run:
            session.commit()
    routes = Counter(f"{TIER_NAMES[p.current]}->{TIER_NAMES[p.target]}" for p in placements)
    dropped = 0 if dry_run else sum(drop_generated(settings, sha256) for sha256 in discharged)
    return {
        "dry_run": dry_run,
        "misplaced_files": len(placements),
        "planned_moves": len(planned),
        "bytes_to_move": sum(p.byte_size for p in placements),
        "routes": dict(sorted(routes.items())),
        "discharged_slide_files": len(discharged),
        "generated_bytes_dropped": dropped,
    }


def run_moves(
    db: Database,
    settings: Settings,
    pause: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Every pending move, oldest first; stops early when ``pause`` says other work waits."""
    recovered = recover(db, settings)
    with db.session() as session:
        pending = pending_moves(session)
    outcome = Counter({"done": 0, "failed": 0})
    switched: list[tuple[float, int]] = []  # (when, move): sources deleted once the grace is over
    for count, move_id in enumerate(pending, start=1):
        if pause():
            outcome["paused"] = len(pending) - count + 1
            break
        if claim(db, move_id):
            state = run_move(db, settings, move_id, defer_delete=True)
            if state == MoveState.switched:
                switched.append((time.monotonic(), move_id))
            else:
                outcome[state.value] += 1
        due = [move for when, move in switched if time.monotonic() - when >= settings.move_grace_seconds]
        outcome["done"] += finish_switched(db, settings, due)
        switched = [(when, move) for when, move in switched if move not in due]
        if progress is not None:
            progress(count, len(pending))
    if switched:  # the last ones: one wait for all of them
        time.sleep(max(0.0, settings.move_grace_seconds - (time.monotonic() - switched[-1][0])))
        outcome["done"] += finish_switched(db, settings, [move for _, move in switched])
    outcome["recovered"] = recovered
    if not outcome["paused"]:
        outcome.update({f"mirror_{key}": value for key, value in sync_mirror(db, settings).items()})
    return dict(outcome)


def other_work_waiting(db: Database) -> bool:
    with db.session() as session:
        waiting = session.scalar(
            select(Job.id).where(Job.state == JobState.queued, Job.kind != STORAGE_JOB).limit(1)
        )
    return waiting is not None


def submit_storage_job(session: Session, kind: str = STORAGE_JOB, user_id: int | None = None) -> int:
    """One job of each storage kind at a time: the queued or running one, else a new one
    (looked for holding the kind's lock, so two servers never both queue one)."""
    take_lock(session, f"storage-job:{kind}")
    existing = session.scalar(
        select(Job.id).where(Job.kind == kind, Job.state.in_((JobState.queued, JobState.running))).limit(1)
    )
    if existing is not None:
        return existing
    return queue.submit(session, kind, None, {}, user_id=user_id, priority=STORAGE_PRIORITY).id


def interrupted_moves(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).where(StorageMove.state.in_(UNFINISHED))) or 0)


def resume_interrupted(db: Database) -> int | None:
    """At start: a storage job to finish or roll back the moves the last run left half done."""
    if not interrupted_moves(db):
        return None
    with db.session() as session:
        job_id = submit_storage_job(session)
        session.commit()
    return job_id


def drop_if_discharged(session: Session, settings: Settings, patient_id: int) -> int:
    """A patient just discharged loses their generated images at once (E5 schedule)."""
    return sum(
        drop_generated(settings, sha256)
        for sha256 in discharged_files(session, settings, patient_id=patient_id)
    )


def run_storage_job(context: JobContext) -> dict[str, object]:
    db = context.db

    def pause() -> bool:
        if INTERACTIVE.busy():
            context.should_stop()  # gives way while a viewer waits
        return context.stop.is_set() or other_work_waiting(db)

    def progress(done: int, total: int) -> None:
        context.report(done / max(1, total), N_("moving slides between storage tiers"))

    outcome = run_moves(db, context.settings, pause, progress)
    if not outcome.get("paused") and interrupted_moves(db):
        # moves a crash left behind whose mover beat only moments ago: stale once this has passed
        context.stop.wait(context.settings.job_stale_seconds + 1)
        outcome = dict(Counter(outcome) + Counter(run_moves(db, context.settings, pause, progress)))
    if outcome.get("paused") and not context.stop.is_set():
        with db.session() as session:  # behind the work that is waiting, not in its way
            queue.submit(session, STORAGE_JOB, None, {}, user_id=context.user_id, priority=STORAGE_PRIORITY)
            session.commit()
    return dict(outcome)


def run_scrub_job(context: JobContext) -> dict[str, object]:
    def progress(done: int, total: int) -> None:
        context.should_stop()  # gives way while a viewer waits
        context.report(done / max(1, total), N_("checking the mirror"))

    copied = sync_mirror(context.db, context.settings)
    record = scrub(context.db, context.settings, progress)
    return {
        "copied_to_mirror": copied["copied"],
        "files": record.files,
        "mismatches": record.mismatches,
        "repaired": record.repaired,
        "unrepairable": record.unrepairable,
    }
