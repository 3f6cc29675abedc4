"""Backups of the database and restoring one (``pathodesk database``): what experts saved
comes back as it was at the backup, on SQLite and on PostgreSQL; the restore can be undone;
what happened to the files since the backup is made true or reported; a damaged or foreign
backup changes nothing; nightly backups are kept to a number."""

from __future__ import annotations

import gzip
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from pathodesk.accounts import create_user
from pathodesk.annotations import store
from pathodesk.config import MediumSettings, Settings
from pathodesk.db.models import (
    Annotation,
    AuditEvent,
    AuthSession,
    MoveState,
    Role,
    Slide,
    StorageMove,
    StorageTier,
    User,
)
from pathodesk.db.session import alembic_config
from pathodesk.errors import NotFoundError, PathoDeskError, ValidationFailedError
from pathodesk.lifecycle.backups import back_up_at_night, upgrade_schema
from pathodesk.lifecycle.restore import restore_database
from pathodesk.lifecycle.schedule import apply_policy, run_moves
from pathodesk.storage.backups import backups_backend, list_backups, take_backup
from tests.storage.library import Library, days_ago
from tests.storage.test_shared_files import delete
from tests.support.shapes import rectangle


@pytest.fixture
def library(library_on_each_database: Library) -> Library:
    return library_on_each_database


def outline(library: Library, slide_id: int, width: float = 60) -> int:
    with library.db.session() as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None
        (created,) = store.create_many(
            session, slide, [store.Draft("lung_aca", rectangle(10, 10, width, 40))], None
        )
        return created.id


def width_of(library: Library, annotation_id: int) -> float | None:
    with library.db.session() as session:
        annotation = session.get(Annotation, annotation_id)
        if annotation is None or annotation.deleted:
            return None
        xs = [x for x, _y in annotation.geometry["coordinates"][0]]
        return max(xs) - min(xs)


def accounts(library: Library) -> list[str]:
    with library.db.session() as session:
        return sorted(session.scalars(select(User.account)))


def log_in(library: Library, account: str) -> None:
    with library.db.session() as session:
        user = create_user(
            session, account=account, name=account, password="a long passphrase", role=Role.expert
        )
        session.flush()
        session.add(
            AuthSession(
                token_hash=f"{account:x<64}"[:64],
                csrf_token="c",
                user_id=user.id,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )


def test_a_restore_brings_back_the_records_of_the_backup_and_can_be_undone(library: Library) -> None:
    slide_id = library.slide(library.exam())
    kept = outline(library, slide_id, width=60)
    log_in(library, "expert")
    backup = take_backup(library.settings)

    # after the backup: the outline is widened, another is drawn, an account is made
    with library.db.session() as session:
        annotation = session.get(Annotation, kept)
        slide = session.get(Slide, slide_id)
        assert annotation is not None and slide is not None
        store.update(
            session, slide, annotation, annotation.version, {"geometry": rectangle(10, 10, 200, 40)}, None
        )
    later = outline(library, slide_id, width=30)
    log_in(library, "late")

    outcome = restore_database(library.settings, backup.name)

    assert width_of(library, kept) == 60 and width_of(library, later) is None
    assert accounts(library) == ["expert"]
    with library.db.session() as session:
        assert session.query(AuthSession).count() == 0, "the expert's login of the backup ends"
        restored = session.scalars(select(AuditEvent).where(AuditEvent.action == "restore-database")).one()
        assert restored.detail["backup"] == backup.name

    # the restore kept what it replaced: restoring that undoes it
    assert outcome["undo_with"] in [b.name for b in list_backups(library.settings)]
    restore_database(library.settings, str(outcome["undo_with"]))
    assert width_of(library, kept) == 200 and width_of(library, later) == 30
    assert accounts(library) == ["expert", "late"]


def test_a_restore_finds_files_moved_since_and_reports_deleted_and_new_ones(library: Library) -> None:
    leaving = library.exam(admitted=days_ago(30))
    moved, deleted = library.slide(leaving), library.slide(library.exam(admitted=days_ago(1)))
    with library.db.session() as session:
        session.add(
            StorageMove(
                path=library.row(deleted).path, source="recent", destination="middle", state="copying"
            )
        )
    backup = take_backup(library.settings)

    library.discharge(leaving, days_ago(1))
    apply_policy(library.db, library.settings)
    assert run_moves(library.db, library.settings)["done"] == 1
    assert library.row(moved).storage_tier == StorageTier.middle
    assert delete(library, deleted)
    added = library.slide(library.exam())
    added_path = library.row(added).path

    outcome = restore_database(library.settings, backup.name)

    assert library.row(moved).storage_tier == StorageTier.middle, "the slide points where its file went"
    assert outcome["files_relocated"] == 1
    assert outcome["slides_missing"] == [deleted]
    assert outcome["files_unreferenced"] == [added_path]
    with library.db.session() as session:
        half_done = session.scalars(
            select(StorageMove).where(StorageMove.path == library.row(deleted).path)
        ).one()
        assert half_done.state == MoveState.failed, "a move the backup caught half-way is stopped"
        assert half_done.updated_at is not None and half_done.error is not None


def test_a_damaged_or_foreign_backup_is_refused_and_changes_nothing(library: Library, tmp_path: Path) -> None:
    slide_id = library.slide(library.exam())
    kept = outline(library, slide_id)
    good = take_backup(library.settings)
    with library.db.session() as session:  # changed since the backup: what a bad restore would lose
        annotation, slide = session.get(Annotation, kept), session.get(Slide, slide_id)
        assert annotation is not None and slide is not None
        store.update(
            session, slide, annotation, annotation.version, {"geometry": rectangle(10, 10, 200, 40)}, None
        )
    local = backups_backend(library.settings).local_path(good.name)
    assert local is not None
    whole = local.read_bytes()
    suffix = ".sqlite3.gz" if good.name.endswith(".sqlite3.gz") else ".pgdump"

    candidates = []
    for share in (0.5, 0.97):  # cut short: early, and only in the last table's rows
        candidates.append(tmp_path / f"cut-{share}{suffix}")
        candidates[-1].write_bytes(whole[: int(len(whole) * share)])
    candidates.append(tmp_path / f"noise{suffix}")
    candidates[-1].write_bytes(b"\x00not a backup" * 100)
    candidates.append(tmp_path / ("other.pgdump" if suffix != ".pgdump" else "other.sqlite3.gz"))
    candidates[-1].write_bytes(whole)
    if suffix != ".pgdump":
        candidates += [_sqlite_backup(tmp_path, "foreign", None), _sqlite_backup(tmp_path, "newer", "9999")]

    before = list_backups(library.settings)
    for candidate in candidates:
        with pytest.raises(ValidationFailedError):
            restore_database(library.settings, str(candidate))
    with pytest.raises(NotFoundError):
        restore_database(library.settings, "pathodesk-20000101T000000.000000Z-manual" + suffix)
    assert list_backups(library.settings) == before, "nothing was backed up for a restore that did not happen"
    assert width_of(library, kept) == 200


def _sqlite_backup(folder: Path, name: str, revision: str | None) -> Path:
    """A gzip of an SQLite database: another program's (no schema revision), or one of a newer
    PathoDesk (a revision this one does not know)."""
    plain = folder / f"{name}.sqlite3"
    connection = sqlite3.connect(plain)
    connection.execute("CREATE TABLE notes (text TEXT)")
    if revision is not None:
        connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
        connection.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    connection.commit()
    connection.close()
    packed = folder / f"{name}.sqlite3.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    return packed


def test_nightly_backups_one_a_night_the_newest_kept(library: Library) -> None:
    settings = library.settings.model_copy(update={"backups_kept": 2})
    night = datetime(2026, 11, 20, 2, 0, 5, tzinfo=UTC)
    first = back_up_at_night(settings, night)
    again = back_up_at_night(settings, night + timedelta(seconds=40))  # a second server, the same night
    assert first["backup"] == again["backup"]
    assert len(list_backups(settings)) == 1
    for day in (1, 2, 3):
        back_up_at_night(settings, night + timedelta(days=day))
    kept = list_backups(settings)
    assert [(backup.taken_at.day, backup.taken_at.hour, backup.reason) for backup in kept] == [
        (23, 2, "nightly"),
        (22, 2, "nightly"),
    ]


def test_a_backup_taken_while_outlines_are_saved_is_one_moment(tmp_path: Path) -> None:
    """SQLite: each outline is saved with its first revision in one transaction; a backup
    taken in the middle of those saves holds both or neither of each."""
    settings = Settings(data_dir=tmp_path / "data")
    settings.ensure_dirs()
    library = Library.open(settings)
    slide_id = library.slide(library.exam())
    stop = threading.Event()

    def keep_drawing() -> None:
        while not stop.is_set():
            outline(library, slide_id)

    drawer = threading.Thread(target=keep_drawing)
    drawer.start()
    try:
        backups = [take_backup(settings) for _ in range(3)]
    finally:
        stop.set()
        drawer.join()
    for backup in backups:
        local = backups_backend(settings).local_path(backup.name)
        assert local is not None
        plain = tmp_path / "check.sqlite3"
        plain.write_bytes(gzip.decompress(local.read_bytes()))
        with sqlite3.connect(plain) as connection:
            outlines = connection.execute("SELECT count(*) FROM annotations").fetchone()[0]
            revised = connection.execute(
                "SELECT count(DISTINCT annotation_id) FROM annotation_revisions"
            ).fetchone()[0]
        assert outlines == revised
        plain.unlink()
    library.db.dispose()


def test_a_copy_left_by_a_killed_backup_is_removed_by_the_next(library: Library) -> None:
    """A backup killed half-way leaves a database copy (patient data) in a scratch folder."""
    old, fresh = library.settings.data_dir / ".backup-killed", library.settings.data_dir / ".backup-running"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "copy.sqlite3").write_bytes(b"rows")
    two_days_ago = time.time() - 2 * 86_400
    os.utime(old, (two_days_ago, two_days_ago))
    take_backup(library.settings)
    assert not old.exists(), "a day-old leftover goes"
    assert fresh.exists(), "another backup's folder in use stays"


def test_a_backup_of_an_older_schema_is_restored_and_brought_up_to_date(
    library: Library, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A backup taken before the latest migration: tables the later migration made are not in
    it; after the restore the migrations run again and the platform works on it."""
    if library.settings.database_url is None:
        old_settings = Settings(data_dir=tmp_path / "old")
    else:
        cluster = request.getfixturevalue("postgres_server")
        old_settings = Settings(data_dir=tmp_path / "old", database_url=cluster.new_database("older_schema"))
    old_url = old_settings.resolved_database_url()
    old_settings.ensure_dirs()
    previous = _previous_revision(old_url)
    command.upgrade(alembic_config(old_url), previous)
    old_backup = take_backup(old_settings)
    old_file = backups_backend(old_settings).local_path(old_backup.name)
    assert old_file is not None

    outcome = restore_database(library.settings, str(old_file))

    assert outcome["revision"] == previous
    with library.db.session() as session:
        assert session.scalar(text("SELECT version_num FROM alembic_version")) == _head(old_url)
    slide_id = library.slide(library.exam())  # the restored database takes new work
    assert width_of(library, outline(library, slide_id)) == 60


def _head(url: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return head


def _previous_revision(url: str) -> str:
    script = ScriptDirectory.from_config(alembic_config(url)).get_revision(_head(url))
    assert script is not None and isinstance(script.down_revision, str)
    return script.down_revision


def test_an_upgrade_of_the_schema_is_preceded_by_a_backup(library: Library, tmp_path: Path) -> None:
    """A new version's migrations run on start; the database as the older version left it is
    backed up first. A new database, and one already current, are not."""
    assert [b.reason for b in list_backups(library.settings)] == [], "the library's new database: none"
    upgrade_schema(library.settings)
    assert list_backups(library.settings) == [], "a current database: none"

    url = library.settings.resolved_database_url()
    library.slide(library.exam())
    command.downgrade(alembic_config(url), _previous_revision(url))
    upgrade_schema(library.settings)
    (before,) = list_backups(library.settings)
    assert before.reason == "before-upgrade"
    with library.db.session() as session:
        assert session.scalar(text("SELECT version_num FROM alembic_version")) == _head(url)
    outcome = restore_database(library.settings, before.name)
    assert outcome["revision"] == _previous_revision(url), "the backup holds the older schema"


def test_an_upgrade_that_cannot_be_backed_up_first_does_not_run(library: Library, tmp_path: Path) -> None:
    url = library.settings.resolved_database_url()
    previous = _previous_revision(url)
    command.downgrade(alembic_config(url), previous)
    unwritable = library.settings.model_copy(
        update={"backups": MediumSettings(url=str(tmp_path / "a-file-not-a-folder"))}
    )
    (tmp_path / "a-file-not-a-folder").write_text("")
    with pytest.raises(PathoDeskError, match="was not upgraded: it could not be backed up first"):
        upgrade_schema(unwritable)
    with library.db.session() as session:
        assert session.scalar(text("SELECT version_num FROM alembic_version")) == previous

    upgrade_schema(unwritable.model_copy(update={"backup_before_upgrade": False}))
    with library.db.session() as session:
        assert session.scalar(text("SELECT version_num FROM alembic_version")) == _head(url)


def test_ids_handed_out_after_the_backup_are_not_handed_out_again(library: Library) -> None:
    """A slide made after the backup and taken away by the restore leaves its id behind (links
    to it, its analysis folder): the next slide, and the next case, get new ids."""
    first_exam = library.exam()
    first = library.slide(first_exam)
    backup = take_backup(library.settings)
    vanishing_exam = library.exam()
    vanishing = library.slide(vanishing_exam)
    restore_database(library.settings, backup.name)
    assert library.exam() > vanishing_exam > first_exam
    assert library.slide(first_exam) > vanishing > first
