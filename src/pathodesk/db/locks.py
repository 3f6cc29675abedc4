"""Locks by name, held in the database until the transaction ends, so they work across
processes and servers: on PostgreSQL a row lock, on SQLite its single writer.

Take one before looking at rows whose state decides a write that another process may be
deciding at the same moment (is this file still used? does this patient exist yet?); the
look that follows sees what the other committed.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pathodesk.db.models import NamedLock, utcnow


def take_lock(session: Session, name: str) -> None:
    """Hold the lock called ``name`` until ``session`` commits or rolls back; waits while
    another transaction holds it. The row keeps a digest of the name, never the name: names
    may hold a patient's code, and lock rows outlive the patient."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(NamedLock).values(name=digest, locked_at=utcnow())
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[NamedLock.name], set_={"locked_at": statement.excluded.locked_at}
        )
    )


def forget_old_locks(session: Session, older_than: timedelta = timedelta(days=1)) -> int:
    """Rows of locks nobody took for ``older_than`` (one per file ever kept would pile up); a
    lock taken again later simply makes its row anew. How many went."""
    gone = session.execute(delete(NamedLock).where(NamedLock.locked_at < utcnow() - older_than))
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]
