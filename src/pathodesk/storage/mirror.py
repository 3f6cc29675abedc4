"""The mirror of permanent storage (SPEC E4): a second copy of every kept file on a medium of
its own, at the same location whatever tier holds the primary (a move between tiers leaves
the mirror as it is). ``sync_mirror`` copies what the mirror lacks; ``scrub`` reads every
copy on both sides, compares it with the recorded checksum and repairs either side from the
other, so one damaged copy is never the last one.

Both read a list of files and then copy, one file after another, without holding anything:
a copy or repair written for a slide deleted (or a file moved) meanwhile is removed again
under the file's lock (``file_locks``), so a deleted slide's bytes do not come back, and a
file missing because it moved is not reported as damaged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from pathodesk.config import Settings
from pathodesk.db.models import MirrorScrub, Slide, StorageMove, StorageTier, utcnow
from pathodesk.db.session import Database
from pathodesk.errors import PathoDeskError
from pathodesk.storage.backends import Backend
from pathodesk.storage.checksum import stream_sha256
from pathodesk.storage.file_locks import delete_unless_used, points_at
from pathodesk.storage.moves import UNFINISHED, record_checksum
from pathodesk.storage.tiers import mirror_backend, tier_backend

Progress = Callable[[int, int], None]  # files done, files in all


@dataclass(frozen=True)
class KeptFile:
    path: str
    tier: StorageTier
    sha256: str | None
    byte_size: int


def kept_files(db: Database) -> list[KeptFile]:
    """Every kept file once (slides sharing bytes share it), except those being moved."""
    with db.session() as session:
        moving = select(StorageMove.path).where(StorageMove.state.in_(UNFINISHED))
        rows = session.execute(
            select(
                Slide.path,
                func.max(Slide.storage_tier),
                func.max(Slide.stored_sha256),
                func.max(func.coalesce(Slide.stored_bytes, Slide.byte_size)),
            )
            .where(Slide.path.not_in(moving))
            .group_by(Slide.path)
            .order_by(Slide.path)
        ).all()
    return [KeptFile(path, StorageTier(tier), sha256, int(size or 0)) for path, tier, sha256, size in rows]


def checksum_of(backend: Backend, path: str) -> str | None:
    """None when the copy is missing or cannot be read."""
    try:
        if not backend.exists(path):
            return None
        with backend.open_read(path) as stream:
            return stream_sha256(stream)
    except (PathoDeskError, OSError):
        return None


def copy_verified(origin: Backend, target: Backend, path: str, expected: str, size: int) -> bool:
    """Write ``path`` from ``origin`` to ``target`` and read it back; a copy that does not match
    is removed again."""
    try:
        with origin.open_read(path) as stream:
            target.write(stream, path, size)
    except (PathoDeskError, OSError):
        return False
    if checksum_of(target, path) == expected:
        return True
    target.delete(path)
    return False


def sync_mirror(db: Database, settings: Settings, progress: Progress | None = None) -> dict[str, int]:
    """Copy to the mirror every kept file it lacks (new slides since the last run)."""
    mirror = mirror_backend(settings)
    if mirror is None:
        return {"copied": 0, "failed": 0}
    present = set(mirror.locations())
    missing = [kept for kept in kept_files(db) if kept.path not in present]
    copied = failed = 0
    for done, kept in enumerate(missing, start=1):
        primary = tier_backend(settings, kept.tier)
        expected = kept.sha256 or checksum_of(primary, kept.path)
        if expected is not None and copy_verified(primary, mirror, kept.path, expected, kept.byte_size):
            # the slide deleted while its copy was written: the deletion found no mirror copy yet
            copied += 0 if delete_unless_used(db, mirror, kept.path) else 1
        elif points_at(db, kept.path, kept.tier):
            failed += 1
        if progress is not None:
            progress(done, len(missing))
    return {"copied": copied, "failed": failed}


def scrub(db: Database, settings: Settings, progress: Progress | None = None) -> MirrorScrub:
    """Read both copies of every kept file; repair the side that does not match its checksum from
    the side that does. Recorded as a ``MirrorScrub`` row (the storage page shows the last)."""
    mirror = mirror_backend(settings)
    files = kept_files(db)
    record = MirrorScrub(started_at=utcnow(), files=len(files), mismatches=0, repaired=0, unrepairable=0)
    details: list[dict[str, object]] = []
    for done, kept in enumerate(files, start=1):
        found = _scrub_one(db, tier_backend(settings, kept.tier), mirror, kept)
        if found is not None:
            damaged, fixed = found
            record.mismatches += len(damaged)
            record.repaired += 1 if fixed else 0
            record.unrepairable += 0 if fixed else 1
            details.append({"path": kept.path, "damaged": damaged, "repaired": fixed})
        if progress is not None:
            progress(done, len(files))
    record.finished_at, record.details = utcnow(), details
    with db.session() as session:
        session.add(record)
        session.commit()
        session.refresh(record)
        session.expunge(record)
    return record


def _scrub_one(
    db: Database, primary: Backend, mirror: Backend | None, kept: KeptFile
) -> tuple[list[str], bool] | None:
    """The damaged sides of one kept file and whether they were repaired; None when both are
    whole, or when its slides were deleted, or it moved, since the list was read (not damage: a
    moved file is checked in its new place next time)."""
    primary_sum = checksum_of(primary, kept.path)
    mirror_sum = checksum_of(mirror, kept.path) if mirror is not None else None
    expected = kept.sha256 or primary_sum or mirror_sum
    if expected is not None and kept.sha256 is None:
        record_checksum(db, kept.path, expected)
    sides = (
        (("primary", primary_sum), ("mirror", mirror_sum))
        if mirror is not None
        else (("primary", primary_sum),)
    )
    damaged = [side for side, found in sides if found != expected]
    if not damaged or not points_at(db, kept.path, kept.tier):
        return None
    fixed = (
        expected is not None
        and len(damaged) == 1
        and _repair(db, primary, mirror, kept, expected, damaged[0])
    )
    return None if fixed is None else (damaged, fixed)


def _repair(
    db: Database, primary: Backend, mirror: Backend | None, kept: KeptFile, expected: str, damaged: str
) -> bool | None:
    """The damaged side rewritten from the other, which matched; None when the file's slides
    were deleted, or it moved, while it was written (the copy is removed again, under the
    file's lock, so a deleted slide's bytes do not come back)."""
    if mirror is None:
        return False
    origin, target = (mirror, primary) if damaged == "primary" else (primary, mirror)
    if not copy_verified(origin, target, kept.path, expected, kept.byte_size):
        return False
    return (
        None if delete_unless_used(db, target, kept.path, kept.tier if target is primary else None) else True
    )
