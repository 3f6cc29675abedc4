"""Copies of the database kept on a medium of their own (``Settings.backups_medium``): taken
each night and by hand, verified after writing, the newest ``backups_kept`` kept.

A backup is one file named after the moment it was taken (to the microsecond: no backup ever
replaces another) and why, e.g. ``pathodesk-20261127T020001.482913Z-nightly.sqlite3.gz``; the
name is its only catalogue, so backups can be listed, copied and restored with the database
itself lost.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pathodesk.config import Settings
from pathodesk.db import dump
from pathodesk.errors import NotFoundError, StorageUnavailableError
from pathodesk.storage.backends import Backend
from pathodesk.storage.checksum import file_sha256
from pathodesk.storage.mirror import checksum_of
from pathodesk.storage.tiers import backend_for

NAME = re.compile(
    r"^pathodesk-(\d{8}T\d{6}\.\d{6}Z)-(nightly|manual|before-restore|before-upgrade)(\.sqlite3\.gz|\.pgdump)$"
)
STAMP = "%Y%m%dT%H%M%S.%fZ"
STALE_SCRATCH_SECONDS = 86_400


@dataclass(frozen=True)
class Backup:
    name: str
    taken_at: datetime
    reason: str  # nightly | manual | before-restore | before-upgrade
    bytes: int

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "taken_at": self.taken_at.isoformat(),
            "reason": self.reason,
            "bytes": self.bytes,
        }


def backups_backend(settings: Settings) -> Backend:
    return backend_for(settings, settings.backups_medium())


def backup_name(settings: Settings, reason: str, now: datetime) -> str:
    stamp = now.astimezone(UTC).strftime(STAMP)
    return f"pathodesk-{stamp}-{reason}{dump.dump_suffix(settings.resolved_database_url())}"


def take_backup(settings: Settings, reason: str = "manual", now: datetime | None = None) -> Backup:
    """Dump the database and keep the dump on the backups medium; read back and compared
    before it counts, so a backup listed is a backup that can be restored."""
    backend = backups_backend(settings)
    name = backup_name(settings, reason, now or datetime.now(UTC))
    with scratch_folder(settings, ".backup-") as scratch:
        local = Path(scratch) / name
        try:
            dump.dump(settings.resolved_database_url(), local)
        except (OSError, sqlite3.Error) as exc:  # a full disk, most often: nothing is kept
            raise StorageUnavailableError(
                "the database could not be copied for a backup: %(reason)s", reason=str(exc)
            ) from exc
        expected, size = file_sha256(local), local.stat().st_size
        with local.open("rb") as source:
            backend.write(source, name, size)
    if checksum_of(backend, name) != expected:
        backend.delete(name)
        raise StorageUnavailableError("the backup %(name)s did not read back as written", name=name)
    return Backup(name, _taken_at(name), reason, size)


@contextmanager
def scratch_folder(settings: Settings, prefix: str) -> Iterator[str]:
    """A private folder in the data directory for a database copy on its way; those of a
    process killed before it could remove its own (a day old) go first: they hold patient data."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for stale in settings.data_dir.glob(f"{prefix}*"):
        if time.time() - stale.stat().st_mtime > STALE_SCRATCH_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=prefix) as scratch:
        yield scratch


def _taken_at(name: str) -> datetime:
    match = NAME.match(name)
    assert match is not None
    return datetime.strptime(match.group(1), STAMP).replace(tzinfo=UTC)


def list_backups(settings: Settings) -> list[Backup]:
    """Every backup on the medium, newest first."""
    backend = backups_backend(settings)
    found = []
    for location in backend.locations():
        match = NAME.match(location)
        if match is not None:
            found.append(Backup(location, _taken_at(location), match.group(2), backend.size(location)))
    return sorted(found, key=lambda backup: backup.taken_at, reverse=True)


def prune_backups(settings: Settings) -> list[str]:
    """Delete all but the newest ``backups_kept``; the names deleted."""
    gone = [backup.name for backup in list_backups(settings)[settings.backups_kept :]]
    backend = backups_backend(settings)
    for name in gone:
        backend.delete(name)
    return gone


def fetch_backup(settings: Settings, name_or_path: str, scratch: Path) -> Path:
    """A private copy in ``scratch`` of the backup named ``name_or_path`` on the medium, or of
    a backup file given by its path (one copied off the medium by hand): nothing done to the
    medium meanwhile (a prune, another backup) changes what is being restored."""
    given = Path(name_or_path)
    target = scratch / given.name
    backend = backups_backend(settings)
    if not given.is_file() and (NAME.match(name_or_path) is None or not backend.exists(name_or_path)):
        raise NotFoundError(
            "no backup called %(name)s: `pathodesk database backups` lists them", name=name_or_path
        )
    source = given.open("rb") if given.is_file() else backend.open_read(name_or_path)
    try:
        with source, target.open("wb") as out:
            shutil.copyfileobj(source, out, 4 << 20)
    except OSError as exc:  # a full data directory, most often
        raise StorageUnavailableError(
            "the backup could not be copied into the data directory: %(reason)s", reason=str(exc)
        ) from exc
    return target
