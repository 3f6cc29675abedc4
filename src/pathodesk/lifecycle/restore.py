"""The database put back from a backup, and made true again for what happened since.

Before anything is replaced, the backup is checked (a PathoDesk database of a schema this
version knows) and the database as it is now is backed up itself, so a restore can be undone.
In the same step as the rows come back: every login ends (a restored session could belong to
an account deactivated since); moves between tiers that the backup caught half-way are
stopped, never finished (finishing one deletes a copy); the id counters are carried past the
ids handed out since the backup (a new slide never takes the id, or the analysis folder, of
one the restore took away). After it, each slide is pointed at the tier that holds its file
now (moves since the backup); slides whose file is gone everywhere, and files stored since
that no slide points at, are reported. The restore is recorded in the audit trail.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.engine import make_url

from pathodesk.audit import record
from pathodesk.config import Settings
from pathodesk.db import dump
from pathodesk.db.models import AuthSession, MoveState, Slide, StorageMove, StorageTier, utcnow
from pathodesk.db.session import Database
from pathodesk.errors import ValidationFailedError
from pathodesk.storage.backups import fetch_backup, scratch_folder, take_backup
from pathodesk.storage.tiers import PERMANENT_TIERS, mirror_backend, tier_backend, tiers_to_search

UNFINISHED_MOVES = (MoveState.planned, MoveState.copying, MoveState.copied, MoveState.switched)


def on_restored_rows(url: str) -> list[str]:
    """Run on the restored rows in the restore's own transaction, so no server ever sees them
    otherwise: a restored login could be of an account deactivated since; a move half-way at
    the backup could, finished, delete a copy a later move made the only one."""
    dialect = make_url(url).get_dialect()()
    statements = (
        delete(AuthSession),
        update(StorageMove)
        .where(StorageMove.state.in_(UNFINISHED_MOVES))
        .values(
            state=MoveState.failed,
            error="stopped: the database was restored from a backup",
            updated_at=utcnow(),
        ),
    )
    return [
        str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        for statement in statements
    ]


def restore_database(settings: Settings, backup: str) -> dict[str, object]:
    """Replace the database by ``backup`` (a name on the backups medium or a file's path)."""
    url = settings.resolved_database_url()
    with scratch_folder(settings, ".restore-") as scratch:
        source = fetch_backup(settings, backup, Path(scratch))
        if not source.name.endswith(dump.dump_suffix(url)):
            raise ValidationFailedError(
                "%(name)s is not a backup of this kind of database (%(engine)s)",
                name=source.name,
                engine="SQLite" if dump.is_sqlite(url) else "PostgreSQL",
            )
        prepared = dump.prepare(url, source)
        undo = take_backup(settings, "before-restore")
        counted = dump.keep_counting(url, dump.id_counters(url))
        dump.load(url, prepared, then=[*on_restored_rows(url), *counted])
    db = Database(url)
    try:
        outcome = _make_true(db, settings)
        with db.session() as session:
            record(
                session,
                actor_id=None,
                actor_account="cli",
                action="restore-database",
                record_type="database",
                backup=source.name,
                undo=undo.name,
                slides_missing=len(outcome["slides_missing"]),  # type: ignore[arg-type]
            )
    finally:
        db.dispose()
    return {"backup": source.name, "revision": prepared.revision, "undo_with": undo.name, **outcome}


def _make_true(db: Database, settings: Settings) -> dict[str, object]:
    """Slides pointed at the tier that holds their file now; what cannot be made true, said."""
    with db.session() as session:
        kept = session.execute(select(Slide.path, Slide.storage_tier).distinct()).all()
        relocated, missing, on_mirror_only = 0, list[int](), list[int]()
        mirror = mirror_backend(settings)
        for path, recorded in kept:
            holder = _tier_holding(settings, path, StorageTier(recorded))
            if holder is not None and holder != recorded:
                session.execute(update(Slide).where(Slide.path == path).values(storage_tier=holder))
                relocated += 1
            elif holder is None:
                slide_ids = session.scalars(
                    select(Slide.id).where(Slide.path == path).order_by(Slide.id)
                ).all()
                (on_mirror_only if mirror is not None and mirror.exists(path) else missing).extend(slide_ids)
        pointed_at = {path for path, _tier in kept}
    unreferenced = sorted(
        {location for tier in PERMANENT_TIERS for location in tier_backend(settings, tier).locations()}
        - pointed_at
    )
    return {
        "files_relocated": relocated,
        "slides_missing": missing,
        "slides_on_mirror_only": on_mirror_only,
        "files_unreferenced": unreferenced,
    }


def _tier_holding(settings: Settings, path: str, recorded: StorageTier) -> StorageTier | None:
    return next(
        (tier for tier in tiers_to_search(recorded) if tier_backend(settings, tier).exists(path)), None
    )
