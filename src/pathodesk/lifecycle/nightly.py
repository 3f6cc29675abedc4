"""E5 schedule, at night: the server applies the placement policy once a day at
``storage_policy_hour`` (local time) and queues the moves, and checks the mirror every
``scrub_every_days``; both then run as the lowest-priority jobs. Several servers sharing a
database may all wake: they plan one after the other (a lock), and planning skips files with
a move under way, so each file is planned once; one storage job of each kind is queued at a
time (looked for under a lock too). Should a file still be planned twice (a move planned by
hand meanwhile), moves and recoveries are taken with conditional updates and a move that
finds its file moved already stops (``storage.moves``): it is copied twice, never lost.

Then the database is backed up (``lifecycle.backups``), once a night whichever server wakes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from pathodesk.config import Settings
from pathodesk.db.locks import forget_old_locks
from pathodesk.db.models import MirrorScrub
from pathodesk.db.session import Database
from pathodesk.lifecycle.backups import back_up_at_night
from pathodesk.lifecycle.schedule import SCRUB_JOB, apply_policy, submit_storage_job

log = logging.getLogger(__name__)


def seconds_until(now: datetime, hour: int) -> float:
    """Until the next ``hour`` o'clock of ``now``'s own time zone."""
    start = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if start <= now:
        start += timedelta(days=1)
    return (start - now).total_seconds()


def run_night(db: Database, settings: Settings, now: datetime | None = None) -> dict[str, object]:
    """Plan the night's moves and queue them; queue a mirror check when one is due."""
    plan = apply_policy(db, settings)
    with db.session() as session:
        plan["job_id"] = submit_storage_job(session)
        last = session.scalar(select(MirrorScrub.started_at).order_by(MirrorScrub.id.desc()).limit(1))
        due = settings.mirror is not None and (
            last is None or (now or datetime.now(UTC)) - last >= timedelta(days=settings.scrub_every_days)
        )
        if due:
            plan["scrub_job_id"] = submit_storage_job(session, SCRUB_JOB)
        plan["locks_forgotten"] = forget_old_locks(session)
        session.commit()
    return plan


class NightlySchedule:
    def __init__(self, db: Database, settings: Settings, wake: Callable[[], None]) -> None:
        self.db, self.settings, self.wake = db, settings, wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pathodesk-nightly", daemon=True)

    def start(self) -> None:
        if self.settings.storage_policy_hour is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        assert self.settings.storage_policy_hour is not None
        while not self._stop.wait(
            seconds_until(datetime.now().astimezone(), self.settings.storage_policy_hour)
        ):
            try:
                outcome = run_night(self.db, self.settings)
                log.info("nightly storage policy: %s file(s) planned to move", outcome["planned_moves"])
                self.wake()
            except Exception:  # a bad night must not stop the next ones
                log.exception("the nightly storage policy failed")
            try:
                log.info("nightly database backup: %s", back_up_at_night(self.settings)["backup"])
            except Exception:
                log.exception("the nightly database backup failed")
