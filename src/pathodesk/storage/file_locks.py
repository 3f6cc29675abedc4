"""One lock per kept file, held in the database until the transaction ends (SPEC E5).

Several slides can share one kept file (the same bytes in two cases), so "nobody uses this
file any more, delete it" is a decision about other rows: made while an upload links a new
slide to the file, or while a mover switches the file to another tier, it deletes the copy
that slide is about to point at. Each of the three takes the file's lock first and looks at
the slides after, in the same transaction; the database makes the others wait. This works
across processes and servers (``db.locks``).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pathodesk.db.locks import take_lock
from pathodesk.db.models import Slide, StorageTier
from pathodesk.db.session import Database
from pathodesk.storage.backends import Backend


def lock_stored_file(session: Session, path: str) -> None:
    """Take the lock of the file kept at ``path`` until ``session`` commits or rolls back;
    waits while another transaction holds it."""
    take_lock(session, f"stored-file:{path}")


def file_in_use(
    session: Session, path: str, tier: StorageTier | None = None, sha256: str | None = None
) -> bool:
    """Whether a slide points at the file (on ``tier``, when given), or has the same bytes
    (``sha256``): read after ``lock_stored_file``, the answer holds until the commit."""
    uses = Slide.path == path
    if tier is not None:
        uses &= Slide.storage_tier == tier
    if sha256 is not None:
        uses = or_(uses, Slide.sha256 == sha256)
    return session.scalar(select(Slide.id).where(uses).limit(1)) is not None


def points_at(db: Database, path: str, tier: StorageTier) -> bool:
    """Whether a slide points at the file on ``tier`` now (a look without the lock)."""
    with db.session() as session:
        return file_in_use(session, path, tier)


def delete_unless_used(db: Database, backend: Backend, path: str, tier: StorageTier | None = None) -> bool:
    """Delete the copy of ``path`` on ``backend`` unless a slide points at it (on ``tier``;
    None: on any tier, as for the mirror), deciding and deleting under the file's lock. Also
    what undoes a copy written without the lock, once written: if its slide was deleted, or
    its file moved, meanwhile, the copy would outlive it."""
    with db.session() as session:
        lock_stored_file(session, path)
        unused = not file_in_use(session, path, tier)
        if unused:
            backend.delete(path)
        session.commit()
    return unused
