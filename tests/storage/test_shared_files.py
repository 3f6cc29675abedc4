"""Slides that share one kept file (the same bytes uploaded to two cases, issue 20) against
the things that delete, move or copy that file (SPEC E4, E5): each test makes two of them
meet at the worst moment, on SQLite and on a real PostgreSQL server. The uploads end with the
invariant that every slide's file is whole, with its checksum, where its row points (without
the file's lock, ``storage.file_locks``, each leaves a slide whose file was deleted); the
mirror's copies and repairs end with no copy of a deleted slide left, and none a move left
behind."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import event

from pathodesk.config import MediumSettings
from pathodesk.db.models import MoveState, Slide, StorageMove, StorageTier
from pathodesk.ingest import ingest_staged, stage_copy
from pathodesk.lifecycle.schedule import apply_policy
from pathodesk.storage import release_slide_files
from pathodesk.storage.backends import LocalBackend
from pathodesk.storage.mirror import scrub, sync_mirror
from pathodesk.storage.moves import claim, run_move
from pathodesk.storage.temporary import generated_slides_dir, generated_tiles_dir
from pathodesk.storage.tiers import PERMANENT_TIERS, tier_backend
from tests.storage.library import Library, days_ago


@pytest.fixture
def library(library_on_each_database: Library) -> Library:
    return library_on_each_database


def scan(library: Library, name: str) -> Path:
    """The same bytes every time it is called with the same ``name``."""
    pixels = np.random.default_rng(sum(name.encode())).integers(120, 250, size=(192, 192, 3), dtype=np.uint8)
    path = library.settings.data_dir.parent / f"{name}.png"
    Image.fromarray(pixels).save(path)
    return path


def upload(library: Library, source: Path, exam_id: int) -> int:
    """An upload to a case whose user cannot see the other slides of these bytes: a new slide
    sharing the kept file."""
    with library.db.session() as session:
        staged = stage_copy(library.settings, source)
        result = ingest_staged(
            session, library.settings, staged, exam_id=exam_id, user_id=None, may_reuse=lambda _slide: False
        )
        assert not result.duplicate
        return result.slide.id


def delete(library: Library, slide_id: int) -> bool:
    """What deleting a slide does: its row goes first, then its file unless another uses it."""
    with library.db.session() as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None
        session.delete(slide)
        session.commit()
        session.expunge(slide)
    with library.db.session() as session:
        return release_slide_files(session, library.settings, slide)


def after_reading_the_slides_of_these_bytes(
    library: Library, action: Callable[[], None]
) -> Callable[[], None]:
    """Run ``action`` once, on this thread, just after the next look for slides by checksum."""
    done: list[bool] = []

    def hook(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not done and "FROM slides" in statement and "slides.sha256 =" in statement:
            done.append(True)
            action()

    event.listen(library.db.engine, "after_cursor_execute", hook)
    return lambda: event.remove(library.db.engine, "after_cursor_execute", hook)


def test_an_upload_whose_file_loses_its_last_other_slide_meanwhile_stores_its_own_bytes(
    library: Library,
) -> None:
    """The upload has seen that the bytes are kept already; before it links its slide to that
    file, the one slide using it is deleted and the file with it."""
    source = scan(library, "shared-a")
    first = upload(library, source, library.exam())
    stop = after_reading_the_slides_of_these_bytes(library, lambda: assert_deleted(library, first))
    try:
        second = upload(library, source, library.exam())
    finally:
        stop()
    assert library.assert_one_good_copy(second) == StorageTier.recent


def assert_deleted(library: Library, slide_id: int) -> None:
    assert delete(library, slide_id), "nobody else used the file: it went"


def test_a_deletion_deciding_while_an_upload_links_to_its_file_keeps_the_file(library: Library) -> None:
    """The upload has seen the kept file and is about to link to it when the deletion of its one
    slide looks for other users of the file: whichever of the two gets the file's lock first,
    the new slide ends with a whole file (without the lock, the upload commits its link right
    after the look, and the file is deleted under it)."""
    source = scan(library, "shared-b")
    first = upload(library, source, library.exam())
    second_exam = library.exam()
    upload_has_read, deletion_has_looked = threading.Event(), threading.Event()
    uploads: list[int] = []
    errors: list[BaseException] = []
    engine = library.db.engine

    def the_upload() -> None:
        try:
            uploads.append(upload(library, source, second_exam))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def hook(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM slides" not in statement:
            return
        if threading.current_thread() is uploader and not upload_has_read.is_set():
            upload_has_read.set()  # it has seen the first slide's file
            assert deletion_has_looked.wait(30)
        elif (
            threading.current_thread() is threading.main_thread()
            and "slides.path =" in statement
            and not deletion_has_looked.is_set()
        ):
            deletion_has_looked.set()  # the deletion found no other user, for now
            uploader.join(2)  # the upload may finish now, if nothing makes it wait

    uploader = threading.Thread(target=the_upload)
    event.listen(engine, "after_cursor_execute", hook)
    try:
        uploader.start()
        assert upload_has_read.wait(30)
        delete(library, first)
        uploader.join(60)
    finally:
        event.remove(engine, "after_cursor_execute", hook)
    assert not errors, errors
    assert library.assert_one_good_copy(uploads[0]) == StorageTier.recent


def test_an_upload_linking_while_the_file_moves_to_another_tier_points_where_it_went(
    library: Library,
) -> None:
    """The upload has seen the file on the recent tier; before it links, a mover copies it to
    the middle tier, switches every slide there and deletes the recent copy. The new slide must
    point at the middle tier (without the lock it points at the deleted recent copy)."""
    source = scan(library, "shared-c")
    exam = library.exam(admitted=days_ago(3))
    first = upload(library, source, exam)
    library.discharge(exam, days_ago(1))
    assert apply_policy(library.db, library.settings)["planned_moves"] == 1
    with library.db.session() as session:
        move_id = session.query(StorageMove.id).filter(StorageMove.state == MoveState.planned).scalar()

    def the_move() -> None:
        assert claim(library.db, move_id)
        assert run_move(library.db, library.settings, move_id) == MoveState.done

    stop = after_reading_the_slides_of_these_bytes(library, the_move)
    try:
        second = upload(library, source, library.exam())
    finally:
        stop()
    assert library.assert_one_good_copy(first) == StorageTier.middle
    assert library.assert_one_good_copy(second) == StorageTier.middle


def test_a_file_and_what_was_generated_from_it_stay_while_a_slide_still_uses_them(library: Library) -> None:
    source = scan(library, "shared-d")
    first = upload(library, source, library.exam())
    second = upload(library, source, library.exam())
    assert library.row(first).path == library.row(second).path
    path, sha256 = library.row(second).path, library.row(second).sha256
    generated = [
        generated_tiles_dir(library.settings) / sha256 / "tile",  # E8: super-resolved tiles
        generated_slides_dir(library.settings) / f"{sha256}-x8.tif",  # and a whole slide
    ]
    for image in generated:
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(b"generated pixels")
    assert not delete(library, first), "the other slide still uses the file"
    assert library.assert_one_good_copy(second) == StorageTier.recent
    assert all(image.exists() for image in generated)
    assert delete(library, second)
    assert not [tier for tier in PERMANENT_TIERS if tier_backend(library.settings, tier).exists(path)]
    assert not [image for image in generated if image.exists()], "a deleted slide's pixels stay nowhere"


def while_copying_into(monkeypatch: pytest.MonkeyPatch, root: Path, action: Callable[[], None]) -> None:
    """Run ``action`` once, in the middle of the next copy written under ``root``: its bytes
    are read, not yet written."""
    original = LocalBackend.write
    done: list[bool] = []

    def write(
        self: LocalBackend, source: io.BufferedIOBase, location: str, size: int, progress: object = None
    ) -> None:
        if done or self.root != root:
            return original(self, source, location, size, progress)  # type: ignore[arg-type]
        done.append(True)
        in_flight = io.BytesIO(source.read())
        action()
        return original(self, in_flight, location, size, progress)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalBackend, "write", write)


def anywhere(library: Library, path: str) -> list[str]:
    """Every place a copy of ``path`` is kept: the permanent tiers and the mirror."""
    places = [tier.value for tier in PERMANENT_TIERS if tier_backend(library.settings, tier).exists(path)]
    assert library.settings.mirror is not None
    return places + (["mirror"] if (Path(library.settings.mirror.url) / path).exists() else [])


def test_a_slide_deleted_while_the_mirror_copies_it_leaves_no_copy_behind(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deleted slide's bytes must not outlive it: the deletion found no mirror copy yet, so
    the mirror's copy, landing after it, is removed again (without the lock it stays)."""
    library.settings.mirror = MediumSettings(url=str(tmp_path / "mirror"))
    slide_id = upload(library, scan(library, "mirrored-a"), library.exam())
    path = library.row(slide_id).path
    while_copying_into(monkeypatch, tmp_path / "mirror", lambda: assert_deleted(library, slide_id))
    assert sync_mirror(library.db, library.settings) == {"copied": 0, "failed": 0}
    assert anywhere(library, path) == []


def test_a_slide_deleted_while_the_scrub_repairs_it_does_not_come_back(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library.settings.mirror = MediumSettings(url=str(tmp_path / "mirror"))
    slide_id = upload(library, scan(library, "mirrored-b"), library.exam())
    path = library.row(slide_id).path
    assert sync_mirror(library.db, library.settings) == {"copied": 1, "failed": 0}
    primary = library.settings.slides_dir / path
    primary.write_bytes(b"damaged" + primary.read_bytes()[7:])
    while_copying_into(monkeypatch, library.settings.slides_dir, lambda: assert_deleted(library, slide_id))
    report = scrub(library.db, library.settings)
    assert (report.mismatches, report.repaired, report.unrepairable) == (0, 0, 0)
    assert anywhere(library, path) == []


def test_a_file_moved_while_the_scrub_reads_it_is_neither_reported_nor_copied_back(
    library: Library, tmp_path: Path
) -> None:
    """The scrub listed the file on the recent tier; a move takes it to the middle tier before
    the scrub reads it. The missing recent copy is not damage, and writing it back from the
    mirror would leave a second permanent copy that nothing points at."""
    library.settings.mirror = MediumSettings(url=str(tmp_path / "mirror"))
    exam = library.exam(admitted=days_ago(3))
    slide_id = upload(library, scan(library, "mirrored-c"), exam)
    assert sync_mirror(library.db, library.settings) == {"copied": 1, "failed": 0}
    library.discharge(exam, days_ago(1))
    assert apply_policy(library.db, library.settings)["planned_moves"] == 1
    with library.db.session() as session:
        move_id = session.query(StorageMove.id).filter(StorageMove.state == MoveState.planned).scalar()
    moved: list[bool] = []

    def the_move(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not moved and "GROUP BY slides.path" in statement:  # the scrub has listed the files
            moved.append(True)
            assert claim(library.db, move_id)
            assert run_move(library.db, library.settings, move_id) == MoveState.done

    event.listen(library.db.engine, "after_cursor_execute", the_move)
    try:
        report = scrub(library.db, library.settings)
    finally:
        event.remove(library.db.engine, "after_cursor_execute", the_move)
    assert moved
    assert (report.mismatches, report.repaired, report.unrepairable) == (0, 0, 0)
    assert library.assert_one_good_copy(slide_id) == StorageTier.middle
