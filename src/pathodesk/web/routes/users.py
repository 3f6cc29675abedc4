"""Administrators manage accounts (SPEC A12; API.md /api/v1/users).

Accounts are never hard-deleted: DELETE deactivates, ends the user's sessions and keeps
everything they created attributed to them.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, or_, select

from pathodesk.accounts import act_as_administrator, create_user, set_password
from pathodesk.audit import record_by
from pathodesk.db.changes import apply_changes
from pathodesk.db.models import AuthSession, Role, User
from pathodesk.db.search import contains
from pathodesk.errors import NotFoundError, ValidationFailedError
from pathodesk.web.deps import AdminUser, DbSession, RecordId, SearchQuery, StateDep

router = APIRouter(prefix="/api/v1/users", tags=["users"])


class UserCreate(BaseModel):
    account: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    name: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)
    role: Role = Role.expert
    phone: str | None = Field(default=None, max_length=32)
    hospital: str | None = Field(default=None, max_length=128)
    department: str | None = Field(default=None, max_length=128)


class UserUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    role: Role | None = None
    phone: str | None = Field(default=None, max_length=32)
    hospital: str | None = Field(default=None, max_length=128)
    department: str | None = Field(default=None, max_length=128)
    active: bool | None = None


class PasswordReset(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    account: str
    name: str
    role: Role
    phone: str | None
    hospital: str | None
    department: str | None
    active: bool
    created_at: datetime
    last_login_at: datetime | None


def _user(session: DbSession, user_id: RecordId) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user %(user_id)s does not exist", user_id=user_id)
    return user


def _end_sessions(session: DbSession, state: StateDep, user_id: RecordId) -> None:
    session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))
    state.principals.clear()


@router.get("")
def list_users(
    admin: AdminUser,
    session: DbSession,
    q: SearchQuery = None,
    active: bool | None = None,
) -> list[UserPublic]:
    query = select(User).order_by(User.account)
    if q:
        columns = (User.name, User.account, User.hospital, User.department)
        query = query.where(or_(*(contains(column, q) for column in columns)))
    if active is not None:
        query = query.where(User.active == active)
    return [UserPublic.model_validate(u) for u in session.scalars(query)]


@router.post("", status_code=201)
def create(body: UserCreate, admin: AdminUser, session: DbSession) -> UserPublic:
    user = create_user(session, **body.model_dump())
    record_by(session, admin, "create", "user", user.id, role=user.role.value)
    return UserPublic.model_validate(user)


@router.get("/{user_id}")
def read(user_id: RecordId, admin: AdminUser, session: DbSession) -> UserPublic:
    return UserPublic.model_validate(_user(session, user_id))


@router.patch("/{user_id}")
def update(
    user_id: RecordId, body: UserUpdate, admin: AdminUser, session: DbSession, state: StateDep
) -> UserPublic:
    user = _user(session, user_id)
    changes = body.model_dump(exclude_unset=True)
    if user.id == admin.user_id and (changes.get("active") is False or changes.get("role") == Role.expert):
        raise ValidationFailedError("administrators cannot deactivate or demote themselves")
    takes_access = changes.get("active") is False or "role" in changes
    if takes_access:
        act_as_administrator(session, admin.user_id)
    apply_changes(user, changes)
    if takes_access:
        _end_sessions(session, state, user.id)
    record_by(
        session,
        admin,
        "update",
        "user",
        user.id,
        fields=sorted(changes),
    )
    return UserPublic.model_validate(user)


@router.post("/{user_id}/password", status_code=204)
def reset_password(
    user_id: RecordId, body: PasswordReset, admin: AdminUser, session: DbSession, state: StateDep
) -> Response:
    user = _user(session, user_id)
    set_password(user, body.password)
    _end_sessions(session, state, user.id)
    record_by(session, admin, "reset_password", "user", user.id)
    return Response(status_code=204)


@router.delete("/{user_id}")
def deactivate(user_id: RecordId, admin: AdminUser, session: DbSession, state: StateDep) -> UserPublic:
    """Deactivate (A12 'delete'): the account stays, so its records keep their author."""
    user = _user(session, user_id)
    if user.id == admin.user_id:
        raise ValidationFailedError("administrators cannot deactivate themselves")
    act_as_administrator(session, admin.user_id)
    user.active = False
    _end_sessions(session, state, user.id)
    record_by(session, admin, "deactivate", "user", user.id)
    return UserPublic.model_validate(user)
