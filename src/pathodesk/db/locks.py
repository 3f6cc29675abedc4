"""Locks by name, held in the database until the transaction ends, so they work across
processes and servers: on PostgreSQL a row lock, on SQLite its single writer.

Take one before looking at rows whose state decides a write that another process may be
deciding at the same moment (is this file still used? does this patient exist yet?); the
look that follows sees what the other committed.
"""

from __future__ import annotations

import hashlib

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
