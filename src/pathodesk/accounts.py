"""Creating accounts, shared by the CLI (create-admin, demo) and later the admin API."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.db.models import Role, User
from pathodesk.errors import ConflictError, ValidationFailedError
from pathodesk.web.security import hash_password, password_problems


def create_user(
    session: Session,
    *,
    account: str,
    name: str,
    password: str,
    role: Role,
    update_existing: bool = False,
) -> User:
    account = account.strip().lower()
    if not account:
        raise ValidationFailedError("the account name is empty")
    problems = password_problems(password)
    if problems:
        raise ValidationFailedError("the password needs " + " and ".join(problems))
    user = session.scalar(select(User).where(User.account == account))
    if user is not None and not update_existing:
        raise ConflictError(f"account {account!r} already exists")
    if user is None:
        user = User(account=account, name=name, role=role, password_hash="", active=True)
        session.add(user)
    user.name = name
    user.role = role
    user.active = True
    user.password_hash = hash_password(password)
    session.flush()
    return user
