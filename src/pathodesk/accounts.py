"""Creating accounts and setting passwords: shared by the CLI and the admin API (A12)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.db.locks import take_lock
from pathodesk.db.models import Role, User
from pathodesk.errors import ConflictError, PermissionDeniedError, ValidationFailedError
from pathodesk.passwords import hash_password, password_problems


def set_password(user: User, password: str) -> None:
    """Apply the password policy, then store only the argon2id hash."""
    problems = password_problems(password, personal=[user.account, *user.name.split()])
    if problems:  # the first reason; the next shows once it is fixed
        message, values = problems[0]
        raise ValidationFailedError(message, **values)
    user.password_hash = hash_password(password)


def create_user(
    session: Session,
    *,
    account: str,
    name: str,
    password: str,
    role: Role,
    update_existing: bool = False,
    phone: str | None = None,
    hospital: str | None = None,
    department: str | None = None,
) -> User:
    account = account.strip().lower()
    if not account:
        raise ValidationFailedError("the account name is empty")
    user = session.scalar(select(User).where(User.account == account))
    if user is not None and not update_existing:
        raise ConflictError("account %(account)r already exists", account=account)
    if user is None:
        user = User(account=account, name=name, role=role, password_hash="", active=True)
        session.add(user)
    user.name = name
    user.role = role
    user.active = True
    user.phone, user.hospital, user.department = phone, hospital, department
    set_password(user, password)
    session.flush()
    return user


def act_as_administrator(session: Session, admin_id: int) -> None:
    """Before deactivating an account or changing a role: such changes run one at a time, each
    by an account that still is an active administrator when it runs. Two administrators who
    deactivate or demote each other at the same moment then leave one of them, not a hospital
    with no administrator (only the command line could make one again)."""
    take_lock(session, "administrators")
    actor = session.get(User, admin_id, populate_existing=True)
    if actor is None or not actor.active or actor.role != Role.admin:
        raise PermissionDeniedError("administrators only")
