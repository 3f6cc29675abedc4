"""The audit trail (issue 3, item 5): written in the same transaction as the change it records.

Details name what changed (field names, counts, ids), never patient values, so the trail
can be read by administrators and kept without becoming a second copy of patient data.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from pathodesk.db.models import AuditEvent


def record(
    session: Session,
    *,
    actor_id: int | None,
    actor_account: str | None,
    action: str,
    record_type: str,
    record_id: object = None,
    **detail: object,
) -> None:
    session.add(
        AuditEvent(
            actor_id=actor_id,
            actor_account=actor_account,
            action=action,
            record_type=record_type,
            record_id=None if record_id is None else str(record_id),
            detail=detail,
        )
    )


class Actor(Protocol):
    """Whoever is acting: a logged-in principal."""

    @property
    def user_id(self) -> int: ...

    @property
    def account(self) -> str: ...


def record_by(
    session: Session, actor: Actor, action: str, record_type: str, record_id: object = None, **detail: object
) -> None:
    record(
        session,
        actor_id=actor.user_id,
        actor_account=actor.account,
        action=action,
        record_type=record_type,
        record_id=record_id,
        **detail,
    )
