"""Moving files is where data gets lost (issue 18, item 6): every fault here is injected for
real — the mover killed with SIGKILL at each step, a destination copy and a primary damaged
on disk, the mirror damaged, an S3 server stopped in the middle of an upload, a disk that
is really full (a 1 MiB tmpfs in a user namespace) — and after each the same invariant is
asserted: exactly one whole permanent copy, with the recorded checksum, that the database
points at; a restart finishes or rolls back; nothing is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, update

from pathodesk.config import MediumSettings, Settings
from pathodesk.db.models import MoveState, StorageMove, StorageTier
from pathodesk.lifecycle.schedule import apply_policy, run_moves
from pathodesk.storage import file_sha256
from pathodesk.storage.mirror import scrub, sync_mirror
from pathodesk.storage.moves import claim, finish_switched, recover, run_move
from pathodesk.storage.tiers import mirror_backend, tier_backend
from tests.storage.library import Library, days_ago
from tests.support.paths import ROOT

RECENT, MIDDLE = StorageTier.recent, StorageTier.middle
# where the mover calls back: during the copy, after it, while verifying, after verifying,
# after the switch, after deleting the source
STEPS = ("copying", "copied", "verifying", "verified", "switched", "deleted")


@pytest.fixture
def library(settings: Settings) -> Library:
    settings.move_grace_seconds = 0.0
    return Library.open(settings)


def planned_move(library: Library, side: int = 256) -> tuple[int, int]:
    """A patient's slide on the recent tier and, after discharge, its planned move to middle."""
    exam = library.exam(admitted=days_ago(3))
    slide_id = library.slide(exam, side=side)
    library.discharge(exam, days_ago(1))
    assert apply_policy(library.db, library.settings)["planned_moves"] == 1
    with library.db.session() as session:
        move_id = session.query(StorageMove.id).filter(StorageMove.state == MoveState.planned).scalar()
    return slide_id, int(move_id)


def mover(library: Library, move_id: int, kill_at: str, *extra: str, wrap: list[str] | None = None) -> int:
    env = os.environ | {
        "PATHODESK_TIERS": json.dumps({k: v.model_dump() for k, v in library.settings.tiers.items()}),
        "PATHODESK_S3_ENDPOINT_URL": library.settings.s3_endpoint_url or "",
        "PYTHONPATH": str(ROOT),
        "PATHODESK_DATABASE_URL": library.settings.database_url or "",
    }
    command = [
        sys.executable,
        "-m",
        "tests.storage.mover",
        str(library.settings.data_dir),
        str(move_id),
        kill_at,
    ]
    result = subprocess.run(
        [*(wrap or []), *command, *extra], env=env, cwd=ROOT, capture_output=True, timeout=120
    )
    return result.returncode


@pytest.mark.parametrize("step", STEPS)
def test_killed_at_any_step_a_restart_leaves_one_good_copy(library: Library, step: str) -> None:
    slide_id, move_id = planned_move(library)
    assert mover(library, move_id, step) == -9, "the mover was killed"
    assert recover(library.db, library.settings, stale_after=timedelta(0)) == 1
    expected = MIDDLE if step in ("switched", "deleted") else RECENT
    assert library.assert_one_good_copy(slide_id) == expected
    assert run_moves(library.db, library.settings).get("done", 0) == (0 if expected == MIDDLE else 1)
    assert library.assert_one_good_copy(slide_id) == MIDDLE


def test_a_live_mover_is_not_recovered_under_its_feet(library: Library) -> None:
    slide_id, move_id = planned_move(library)
    assert claim(library.db, move_id)
    assert recover(library.db, library.settings) == 0, "its heartbeat is fresh"
    assert not claim(library.db, move_id), "and no second mover may take it"
    assert run_move(library.db, library.settings, move_id) == MoveState.done
    assert library.assert_one_good_copy(slide_id) == MIDDLE


def test_two_recoveries_at_once_never_undo_a_move_taken_up_again(library: Library) -> None:
    """Two servers started together each recover what a crash left. The faster one plans the
    dead move again and a mover takes it up at once, up to the switch; the slower one saw the
    move stale a moment before and must now leave it alone: marking a switched move planned
    would move it once more, and that deletes the copy the slide points at."""
    slide_id, move_id = planned_move(library)
    db, settings = library.db, library.settings
    assert claim(db, move_id)
    with db.session() as session:  # its mover died a minute ago, just after claiming it
        session.execute(
            update(StorageMove)
            .where(StorageMove.id == move_id)
            .values(updated_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    stale_after = timedelta(seconds=10)
    first: list[str] = []

    def the_other_server_gets_there_first(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if first or not statement.lstrip().upper().startswith("SELECT") or "storage_moves" not in statement:
            return
        first.append(statement)  # the slower recovery has just read the move as stale
        assert recover(db, settings, stale_after) == 1
        assert claim(db, move_id)
        assert run_move(db, settings, move_id, defer_delete=True) == MoveState.switched

    event.listen(db.engine, "after_cursor_execute", the_other_server_gets_there_first)
    try:
        assert recover(db, settings, stale_after) == 0, "the slower recovery leaves it alone"
    finally:
        event.remove(db.engine, "after_cursor_execute", the_other_server_gets_there_first)
    assert first, "the other server never ran between the look and the recovery"
    with db.session() as session:
        assert session.get(StorageMove, move_id).state == MoveState.switched  # type: ignore[union-attr]
    assert finish_switched(db, settings, [move_id]) == 1  # the mover's grace period is over
    run_moves(db, settings)  # the next storage job
    assert library.assert_one_good_copy(slide_id) == MIDDLE, "nothing was moved twice"


def duplicate_of(library: Library, move_id: int) -> int:
    """A second planned move of the same file: what servers that wake together at the policy
    hour leave when each plans before the other's plan is committed."""
    with library.db.session() as session:
        move = session.get(StorageMove, move_id)
        assert move is not None
        same_file = {
            name: getattr(move, name) for name in ("path", "source", "destination", "sha256", "byte_size")
        }
        twin = StorageMove(**same_file, state=MoveState.planned, attempts=0)
        session.add(twin)
        session.flush()
        return twin.id


def test_a_file_planned_twice_is_moved_once_and_never_lost(library: Library) -> None:
    """The second move finds the slide already on its destination and stops; copying again
    would switch no slide and then delete 'the unused copy': the one the slide points at."""
    library.settings.move_grace_seconds = 0.5  # the first move's source is still there
    slide_id, move_id = planned_move(library)
    twin_id = duplicate_of(library, move_id)
    assert run_moves(library.db, library.settings)["done"] == 2
    assert library.assert_one_good_copy(slide_id) == MIDDLE
    with library.db.session() as session:
        twin = session.get(StorageMove, twin_id)
        assert twin is not None and twin.state == MoveState.done and "already moved" in (twin.error or "")


def test_two_movers_of_one_file_at_once_keep_the_copy_the_slide_points_at(library: Library) -> None:
    """Both movers copy; the other one switches the slide while this one verifies. This one's
    switch then changes no row, and it must not take that for 'every slide was deleted'."""
    slide_id, move_id = planned_move(library)
    twin_id = duplicate_of(library, move_id)
    assert claim(library.db, move_id) and claim(library.db, twin_id)
    ran: list[MoveState] = []

    def the_other_mover_switches_first(step: str) -> None:
        if step == "verified" and not ran:
            ran.append(run_move(library.db, library.settings, move_id, defer_delete=True))

    assert run_move(library.db, library.settings, twin_id, the_other_mover_switches_first) == MoveState.done
    assert ran == [MoveState.switched]
    assert finish_switched(library.db, library.settings, [move_id]) == 1  # its grace period is over
    assert library.assert_one_good_copy(slide_id) == MIDDLE


def test_a_damaged_destination_copy_is_detected_and_written_again(library: Library) -> None:
    slide_id, move_id = planned_move(library)
    target = tier_backend(library.settings, MIDDLE).local_path(library.row(slide_id).path)
    assert target is not None
    copies = []

    def damage_first_copy(step: str) -> None:
        if step == "copied":
            copies.append(step)
            if len(copies) == 1:
                with target.open("r+b") as handle:
                    handle.seek(100)
                    handle.write(b"\x00" * 64)

    assert claim(library.db, move_id)
    assert run_move(library.db, library.settings, move_id, damage_first_copy) == MoveState.done
    assert len(copies) == 2, "the damaged copy was found and replaced"
    assert library.assert_one_good_copy(slide_id) == MIDDLE


def with_mirror(library: Library, tmp_path: Path) -> None:
    library.settings.mirror = MediumSettings(url=str(tmp_path / "mirror"))


def damage(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(200)
        handle.write(b"\xff" * 32)


def test_a_damaged_primary_is_repaired_from_the_mirror_by_the_scrub(library: Library, tmp_path: Path) -> None:
    with_mirror(library, tmp_path)
    slides = [library.slide(library.exam(admitted=days_ago(2))) for _ in range(3)]
    assert sync_mirror(library.db, library.settings) == {"copied": 3, "failed": 0}
    primary = tier_backend(library.settings, RECENT).local_path(library.row(slides[0]).path)
    mirrored = mirror_backend(library.settings).local_path(library.row(slides[1]).path)  # type: ignore[union-attr]
    assert primary is not None and mirrored is not None
    damage(primary)
    damage(mirrored)
    report = scrub(library.db, library.settings)
    assert (report.files, report.mismatches, report.repaired, report.unrepairable) == (3, 2, 2, 0)
    for slide_id in slides:
        library.assert_one_good_copy(slide_id)
        mirror_copy = tmp_path / "mirror" / library.row(slide_id).path
        assert file_sha256(mirror_copy) == library.row(slide_id).stored_sha256
    clean = scrub(library.db, library.settings)
    assert (clean.mismatches, clean.repaired) == (0, 0)


def test_both_copies_damaged_is_reported_not_hidden(library: Library, tmp_path: Path) -> None:
    with_mirror(library, tmp_path)
    slide_id = library.slide(library.exam(admitted=days_ago(2)))
    sync_mirror(library.db, library.settings)
    path = library.row(slide_id).path
    damage(library.settings.slides_dir / path)
    damage(tmp_path / "mirror" / path)
    report = scrub(library.db, library.settings)
    assert (report.mismatches, report.repaired, report.unrepairable) == (2, 0, 1)
    assert report.details == [{"path": path, "damaged": ["primary", "mirror"], "repaired": False}]


def test_a_move_from_a_damaged_primary_copies_the_mirror(library: Library, tmp_path: Path) -> None:
    with_mirror(library, tmp_path)
    slide_id, _move_id = planned_move(library)
    sync_mirror(library.db, library.settings)
    damage(library.settings.slides_dir / library.row(slide_id).path)
    assert run_moves(library.db, library.settings)["done"] == 1
    assert library.assert_one_good_copy(slide_id) == MIDDLE


def test_a_full_disk_fails_the_move_cleanly_and_keeps_the_source(library: Library, tmp_path: Path) -> None:
    """The middle tier is a real 1 MiB tmpfs, mounted in a user namespace of the mover's own;
    the slide is ~2 MiB. Checked before copying, and (with the check blinded) met mid-copy."""
    full = tmp_path / "small-disk"
    full.mkdir()
    library.settings.tiers = {"middle": MediumSettings(url=str(full))}
    slide_id, move_id = planned_move(library, side=900)
    assert library.row(slide_id).byte_size > 2 * 1024**2
    mount = [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        f'mount -t tmpfs -o size=1m none "{full}" && exec "$@"',
        "--",
    ]
    for blinded in ((), ("--pretend-free-space",)):
        assert mover(library, move_id, "none", *blinded, wrap=mount) == 0
        with library.db.session() as session:
            move = session.get(StorageMove, move_id)
            assert move is not None and move.state == MoveState.failed
            assert ("is full" if blinded else "bytes free") in (move.error or ""), move.error
        assert library.assert_one_good_copy(slide_id) == RECENT
    assert list(full.iterdir()) == [], "nothing half-written (the tmpfs is gone; its mount point stays empty)"
    assert run_moves(library.db, library.settings)["done"] == 1, "retried later, on a disk with room"
    assert library.assert_one_good_copy(slide_id) == MIDDLE


@pytest.mark.parametrize("step", ["copied", "switched"])
def test_a_restarted_server_finishes_or_rolls_back_what_a_crash_left(library: Library, step: str) -> None:
    """No one runs a command: the server's start queues the storage job, which waits until the
    dead mover's heartbeat is stale, then rolls back (before the switch) or finishes (after)."""
    from fastapi.testclient import TestClient

    from pathodesk.db.models import Job, JobState
    from pathodesk.web.app import create_app
    from tests.support.jobs import wait_for

    library.settings.job_stale_seconds = 1.0
    slide_id, move_id = planned_move(library)
    assert mover(library, move_id, step) == -9

    def storage_job_done() -> bool:
        with library.db.session() as session:
            jobs = session.query(Job).filter(Job.kind == "storage").all()
            return bool(jobs) and all(job.state == JobState.succeeded for job in jobs)

    with TestClient(create_app(library.settings)):
        wait_for(storage_job_done, timeout=60)
    assert library.assert_one_good_copy(slide_id) == MIDDLE, "rolled back and moved again, or finished"
    with library.db.session() as session:
        assert session.get(StorageMove, move_id).state == MoveState.done  # type: ignore[union-attr]
