"""Database backups as the platform takes them: each night after the storage policy, and as
a storage job when an administrator asks on the storage page (``storage.backups`` keeps them;
``lifecycle.restore`` puts one back)."""

from __future__ import annotations

from datetime import datetime

from pathodesk.config import Settings
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.storage.backups import prune_backups, take_backup

BACKUP_JOB = "database-backup"


def back_up_at_night(settings: Settings, now: datetime | None = None) -> dict[str, object]:
    """The night's copy of the database, then all but the newest ``backups_kept`` deleted."""
    taken = take_backup(settings, "nightly", now)
    return {"backup": taken.name, "pruned": prune_backups(settings)}


def run_backup_job(context: JobContext) -> dict[str, object]:
    context.report(0.0, N_("backing up the database"))
    taken = take_backup(context.settings, "manual")
    return taken.as_json()
