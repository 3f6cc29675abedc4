"""Database backups as the platform takes them: each night after the storage policy, as a
storage job when an administrator asks on the storage page, and before the migrations of a
new version change the tables (``storage.backups`` keeps them; ``lifecycle.restore`` puts
one back)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pathodesk.config import Settings
from pathodesk.db.session import migrate
from pathodesk.errors import PathoDeskError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.storage.backups import list_backups, prune_backups, take_backup

BACKUP_JOB = "database-backup"


def upgrade_schema(settings: Settings) -> None:
    """Run the migrations a new PathoDesk brings, after a backup of the database as the older
    version left it: an upgrade that goes wrong can be undone by restoring that backup."""

    def back_up(revision: str) -> None:
        try:
            take_backup(settings, "before-upgrade")
        except PathoDeskError as exc:
            raise PathoDeskError(
                "the database (schema %(revision)s) was not upgraded: it could not be backed up first"
                " (%(reason)s). Set PATHODESK_BACKUP_BEFORE_UPGRADE=0 to upgrade it without a backup",
                revision=revision,
                reason=exc.detail,
            ) from exc

    url = settings.resolved_database_url()
    migrate(url, before_upgrade=back_up if settings.backup_before_upgrade else None)


NIGHT = timedelta(hours=20)  # a nightly backup younger than this is tonight's


def back_up_at_night(settings: Settings, now: datetime | None = None) -> dict[str, object]:
    """The night's copy of the database, then all but the newest ``backups_kept`` deleted.
    Servers that wake together: one that finds tonight's backup taken takes none (two that
    look at the same moment take two, each whole; the older goes with the pruning)."""
    moment = now or datetime.now(UTC)
    tonight = [b for b in list_backups(settings) if b.reason == "nightly" and moment - b.taken_at < NIGHT]
    if tonight:
        return {"backup": tonight[0].name, "pruned": []}
    taken = take_backup(settings, "nightly", moment)
    return {"backup": taken.name, "pruned": prune_backups(settings)}


def run_backup_job(context: JobContext) -> dict[str, object]:
    context.report(0.0, N_("backing up the database"))
    taken = take_backup(context.settings, "manual")
    return taken.as_json()
