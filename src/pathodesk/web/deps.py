"""Typed dependencies: the state, the caller, and the guards every route declares."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pathodesk.db.models import AuthSession, Exam, Patient, Role, Slide
from pathodesk.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from pathodesk.web.security import token_digest, tokens_match
from pathodesk.web.state import AppState, Principal, SlideHandle

SESSION_COOKIE = "pathodesk_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.pathodesk
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_db_session(state: StateDep) -> Iterator[Session]:
    with state.db.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db_session)]


def lookup_principal(state: AppState, token: str | None) -> Principal | None:
    """Resolve a session cookie; cached for a few seconds so tile requests stay cheap."""
    if not token:
        return None
    digest = token_digest(token)
    cached = state.principals.get(digest)
    if cached is not None:
        return cached
    with state.db.session() as session:
        row = session.scalar(select(AuthSession).where(AuthSession.token_hash == digest))
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires < datetime.now(UTC) or not row.user.active:
            return None
        principal = Principal(
            user_id=row.user.id,
            account=row.user.account,
            name=row.user.name,
            role=row.user.role.value,
            csrf_token=row.csrf_token,
            session_id=row.id,
        )
    state.principals.put(digest, principal)
    return principal


def current_principal(request: Request, state: StateDep) -> Principal:
    principal = lookup_principal(state, request.cookies.get(SESSION_COOKIE))
    if principal is None:
        raise AuthenticationError("log in first")
    if request.method not in SAFE_METHODS and not tokens_match(
        principal.csrf_token, request.headers.get(CSRF_HEADER)
    ):
        raise PermissionDeniedError(f"missing or wrong {CSRF_HEADER} header")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_admin(user: CurrentUser) -> Principal:
    if user.role != Role.admin.value:
        raise PermissionDeniedError("administrators only")
    return user


AdminUser = Annotated[Principal, Depends(require_admin)]


def can_see(user: Principal, owner_id: int | None) -> bool:
    """The one visibility rule for records: admins see all, experts what they own."""
    return user.is_admin or owner_id == user.user_id


Owned = TypeVar("Owned", Patient, Exam, Slide)


def visible_records(user: Principal, model: type[Owned], newest_first: bool = False) -> Select[Owned]:
    """``select(model)`` restricted by ``can_see``, in id order."""
    query = select(model).order_by(model.id.desc() if newest_first else model.id)
    if not user.is_admin:
        query = query.where(model.created_by_id == user.user_id)
    return query


def slide_handle(state: AppState, user: Principal, slide_id: int) -> SlideHandle:
    """The slide's file and checksum, if this caller may see it (404 otherwise: no leak)."""
    handle = state.slide_handles.get(slide_id)
    if handle is None:
        with state.db.session() as session:
            slide = session.get(Slide, slide_id)
            if slide is None:
                raise NotFoundError(f"slide {slide_id} does not exist")
            handle = SlideHandle(
                slide_id=slide.id,
                path=state.settings.slides_dir / slide.path,
                sha256=slide.sha256,
                owner_id=slide.created_by_id,
            )
        state.slide_handles.put(slide_id, handle)
    if not can_see(user, handle.owner_id):
        raise NotFoundError(f"slide {slide_id} does not exist")
    return handle
