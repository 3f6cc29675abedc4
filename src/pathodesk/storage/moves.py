"""Moving a kept file between tiers without ever losing it (SPEC E4, E5).

Each move is a row (``StorageMove``) and goes: copy to the destination (written whole or not
at all, flushed) → verify its SHA-256 there against the recorded checksum → switch every
slide row that uses the file to the destination and mark the move ``switched`` in one
transaction → after a grace period (readers that looked the slide up just before still find
the old copy) delete the source → ``done``.

Whatever step a crash interrupts, the database points at a whole, verified copy: before the
switch it is the untouched source, after it the verified destination. ``recover`` finishes a
switched move (deletes the source) and rolls back an unswitched one (deletes what reached
the destination) and plans it again. A mover beats ``updated_at`` while it works, so recovery
only touches moves whose mover stopped. A source that no longer matches its checksum is not
copied: the mirror's copy is, if it matches.

Several servers may plan, move and recover at the same moment: a move and a recovery are each
taken with a conditional update that only one can win, and a move of a file whose slides
already point at its destination (planned twice) stops without deleting anything. The switch
and every deletion of a copy hold the file's lock (``file_locks``): an upload linking a new
slide to the file waits for them, and they see its slide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pathodesk.config import Settings
from pathodesk.db.models import MoveState, Slide, StorageMove, StorageTier, utcnow
from pathodesk.db.session import Database
from pathodesk.errors import PathoDeskError, StorageUnavailableError
from pathodesk.storage.backends import Backend
from pathodesk.storage.checksum import stream_sha256
from pathodesk.storage.file_locks import delete_unless_used, file_in_use, lock_stored_file, points_at
from pathodesk.storage.policy import Placement
from pathodesk.storage.tiers import mirror_backend, tier_backend

UNFINISHED = (MoveState.copying, MoveState.copied, MoveState.switched)
MAX_ATTEMPTS = 3
BEAT_SECONDS = 1.0
# "copying" (each chunk written), "copied", "verified", "switched", "deleted": fault tests
# stop the process at each, a job reports progress from them
OnStep = Callable[[str], None]


def _nothing(_step: str) -> None:
    return None


class CorruptCopyError(StorageUnavailableError):
    """No copy of the file matches its recorded checksum, at the source or on the mirror."""


def plan_moves(session: Session, placements: Sequence[Placement]) -> list[StorageMove]:
    """A planned move for each misplaced file that has no move under way already."""
    retrying = (StorageMove.state == MoveState.failed) & (StorageMove.attempts < MAX_ATTEMPTS)
    busy = set(
        session.scalars(
            select(StorageMove.path).where(StorageMove.state.in_((MoveState.planned, *UNFINISHED)) | retrying)
        )
    )
    moves = [
        StorageMove(
            path=placement.path,
            source=placement.current,
            destination=placement.target,
            sha256=placement.sha256,
            byte_size=placement.byte_size,
            state=MoveState.planned,
            attempts=0,
        )
        for placement in placements
        if placement.path not in busy
    ]
    session.add_all(moves)
    session.flush()
    return moves


def claim(db: Database, move_id: int) -> bool:
    """planned (or failed, with attempts left) → copying; only one mover can win."""
    with db.session() as session:
        won = session.execute(
            update(StorageMove)
            .where(
                StorageMove.id == move_id,
                StorageMove.state.in_((MoveState.planned, MoveState.failed)),
                StorageMove.attempts < MAX_ATTEMPTS,
            )
            .values(
                state=MoveState.copying, attempts=StorageMove.attempts + 1, error=None, updated_at=utcnow()
            )
        ).rowcount  # type: ignore[attr-defined]
        session.commit()
    return bool(won)


class _Heartbeat:
    """Calls ``on_step`` and, at most once a second, tells the database the mover is alive."""

    def __init__(self, db: Database, move_id: int, on_step: OnStep) -> None:
        self.db, self.move_id, self.on_step, self.last = db, move_id, on_step, time.monotonic()

    def __call__(self, step: str) -> None:
        self.on_step(step)
        if time.monotonic() - self.last >= BEAT_SECONDS:
            self.last = time.monotonic()
            with self.db.session() as session:
                session.execute(
                    update(StorageMove).where(StorageMove.id == self.move_id).values(updated_at=utcnow())
                )
                session.commit()


def run_move(
    db: Database, settings: Settings, move_id: int, on_step: OnStep = _nothing, defer_delete: bool = False
) -> MoveState:
    """Carry out one claimed move; a failure leaves the source as the one copy and the move
    ``failed`` with its reason (retried by the next run while attempts are left). With
    ``defer_delete`` it stops at ``switched``: the caller deletes the sources of many moves
    after one grace period (``finish_switched``) instead of waiting it out file by file."""
    with db.session() as session:
        move = session.get(StorageMove, move_id)
        assert move is not None and move.state == MoveState.copying, "claim the move first"
        path, source_tier, target_tier = move.path, move.source, move.destination
        expected, size = move.sha256, move.byte_size
    if points_at(db, path, target_tier) and not points_at(db, path, source_tier):
        return _already_moved(db, move_id)
    source, target = tier_backend(settings, source_tier), tier_backend(settings, target_tier)
    beat = _Heartbeat(db, move_id, on_step)
    try:
        if expected is None:  # kept before checksums of reduced files were recorded: trust the source
            expected = record_checksum(db, path, _checksum(source, path))
        size = size or source.size(path)
        target.discard_partials(path)  # what an earlier attempt left (an upload never finished)
        _copy_verified(path, [source, mirror_backend(settings)], target, expected, size, beat)
    except (PathoDeskError, OSError) as exc:
        _roll_back_target(db, path, target, target_tier)
        _set_state(db, move_id, MoveState.failed, error=str(exc)[:1000])
        return MoveState.failed
    beat("verified")
    with db.session() as session:
        lock_stored_file(session, path)  # no upload links a slide to the source copy meanwhile
        switched = session.execute(
            update(Slide)
            .where(Slide.path == path, Slide.storage_tier == source_tier)
            .values(storage_tier=target_tier)
        ).rowcount  # type: ignore[attr-defined]
        session.execute(
            update(StorageMove)
            .where(StorageMove.id == move_id)
            .values(state=MoveState.switched, sha256=expected, updated_at=utcnow())
        )
        moved_before = not switched and file_in_use(session, path, target_tier)
        session.commit()
    beat("switched")
    if moved_before:
        return _already_moved(db, move_id)
    if not switched:  # every slide using the file was deleted meanwhile
        delete_unless_used(db, target, path, target_tier)
    elif defer_delete:
        return MoveState.switched
    else:
        time.sleep(settings.move_grace_seconds)
    delete_unless_used(db, source, path, source_tier)
    beat("deleted")
    _set_state(db, move_id, MoveState.done)
    return MoveState.done


def _already_moved(db: Database, move_id: int) -> MoveState:
    """Another move of the same file got there first (servers that woke together planned it
    twice): the file is where it should be and that move's mover deletes the source after its
    grace period. Deleting anything here would delete the copy the slides point at."""
    _set_state(db, move_id, MoveState.done, error="already moved by another move of the same file")
    return MoveState.done


def finish_switched(db: Database, settings: Settings, move_ids: Sequence[int]) -> int:
    """Delete the sources of switched moves (their grace period over) and mark them done."""
    with db.session() as session:
        moves = [
            (move.id, move.path, move.source)
            for move in session.scalars(
                select(StorageMove).where(
                    StorageMove.id.in_(move_ids), StorageMove.state == MoveState.switched
                )
            )
        ]
    for move_id, path, source_tier in moves:
        _finish_switched(db, settings, move_id, path, source_tier)
    return len(moves)


def _copy_verified(
    path: str, origins: Sequence[Backend | None], target: Backend, expected: str, size: int, beat: OnStep
) -> None:
    """From the first origin whose copy matches ``expected`` (the primary, else the mirror);
    a destination copy that does not verify is deleted and written once more."""
    for origin in origins:
        if origin is None or not origin.exists(path):
            continue
        for _attempt in range(2):
            with origin.open_read(path) as stream:
                target.write(stream, path, size, progress=lambda _done: beat("copying"))
            beat("copied")
            if _checksum(target, path, beat) == expected:
                return
            target.delete(path)
            if _checksum(origin, path, beat) != expected:
                break  # the origin itself is damaged: try the next one
    raise CorruptCopyError("no copy of %(path)s matches its checksum", path=path)


def _checksum(backend: Backend, path: str, beat: OnStep = _nothing) -> str:
    with backend.open_read(path) as stream:
        return stream_sha256(stream, progress=lambda _done: beat("verifying"))


def record_checksum(db: Database, path: str, sha256: str) -> str:
    with db.session() as session:
        session.execute(
            update(Slide)
            .where(Slide.path == path, Slide.stored_sha256.is_(None))
            .values(stored_sha256=sha256)
        )
        session.commit()
    return sha256


def _roll_back_target(db: Database, path: str, target: Backend, target_tier: StorageTier) -> None:
    """Whatever reached the destination goes, unless the database points there."""
    try:
        target.discard_partials(path)
        if target.exists(path):
            delete_unless_used(db, target, path, target_tier)
    except (PathoDeskError, OSError):
        pass  # an unreachable destination: ``recover`` tries again later


def _finish_switched(
    db: Database, settings: Settings, move_id: int, path: str, source_tier: StorageTier
) -> None:
    delete_unless_used(db, tier_backend(settings, source_tier), path, source_tier)
    _set_state(db, move_id, MoveState.done)


def _set_state(db: Database, move_id: int, state: MoveState, error: str | None = None) -> None:
    with db.session() as session:
        session.execute(
            update(StorageMove)
            .where(StorageMove.id == move_id)
            .values(state=state, error=error, updated_at=utcnow())
        )
        session.commit()


def recover(db: Database, settings: Settings, stale_after: timedelta | None = None) -> int:
    """Finish moves a crash left switched, roll back those it left before the switch (they are
    planned again); only moves whose mover has not beaten for ``stale_after``."""
    limit = datetime.now(UTC) - (
        stale_after if stale_after is not None else timedelta(seconds=settings.job_stale_seconds)
    )
    with db.session() as session:
        stopped = [
            (move.id, move.path, move.source, move.destination, move.state)
            for move in session.scalars(
                select(StorageMove).where(StorageMove.state.in_(UNFINISHED), StorageMove.updated_at <= limit)
            )
        ]
    recovered = 0
    for move_id, path, source_tier, target_tier, state in stopped:
        if not _take_stopped(db, move_id, state, limit):
            continue  # another server's recovery got there first, and a mover may have it again
        if state == MoveState.switched:
            _finish_switched(db, settings, move_id, path, source_tier)
        else:
            _roll_back_target(db, path, tier_backend(settings, target_tier), target_tier)
            _set_state(db, move_id, MoveState.planned, error="interrupted; planned again")
        recovered += 1
    return recovered


def _take_stopped(db: Database, move_id: int, state: MoveState, limit: datetime) -> bool:
    """Whether this recovery may handle a stopped move: it must still be as it was seen (same
    state, no beat since ``limit``), and taking it beats it, so a recovery running on another
    server at the same moment leaves it alone. Without this, a slower recovery would roll back
    a move that the faster one had already planned again and a mover had taken up (or even
    switched): moving it once more deletes the copy the slide points at."""
    with db.session() as session:
        taken = session.execute(
            update(StorageMove)
            .where(StorageMove.id == move_id, StorageMove.state == state, StorageMove.updated_at <= limit)
            .values(updated_at=utcnow())
        ).rowcount  # type: ignore[attr-defined]
        session.commit()
    return bool(taken)


def pending_moves(session: Session) -> list[int]:
    """Moves to run, oldest first: planned or failed, with attempts left."""
    return list(
        session.scalars(
            select(StorageMove.id)
            .where(
                StorageMove.state.in_((MoveState.planned, MoveState.failed)),
                StorageMove.attempts < MAX_ATTEMPTS,
            )
            .order_by(StorageMove.id)
        )
    )
