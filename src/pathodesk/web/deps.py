"""Typed dependencies: the state, the caller, and the guards every route declares."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.db.models import MAX_ID, AuthSession, Role
from pathodesk.errors import AuthenticationError, PermissionDeniedError
from pathodesk.web.security import token_digest, tokens_match
from pathodesk.web.state import AppState, Principal

SESSION_COOKIE = "pathodesk_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


SEEN_RESOLUTION = timedelta(minutes=1)

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
IdValue = Annotated[int, Field(ge=1, le=MAX_ID)]

# Free-text search: printable text only (a NUL would cut SQLite's LIKE pattern short).
SearchQuery = Annotated[
    str | None,
    Query(max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$", description="substring, case-insensitive"),
]


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.pathodesk
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_db_session(state: StateDep) -> Iterator[Session]:
    with state.db.session() as session:
        yield session


# scope="function": commit before the response leaves. With the default ("request") the
# client could get its 200 and ask again before its own write is visible.
DbSession = Annotated[Session, Depends(get_db_session, scope="function")]


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
        now = datetime.now(UTC)
        idle_limit = timedelta(minutes=state.settings.session_idle_minutes)
        if row.expires_at < now or row.last_seen_at + idle_limit < now or not row.user.active:
            session.delete(row)
            return None
        if now - row.last_seen_at > SEEN_RESOLUTION:
            row.last_seen_at = now  # written at most once a minute, not per tile
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
        raise PermissionDeniedError("missing or wrong %(csrf_header)s header", csrf_header=CSRF_HEADER)
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_admin(user: CurrentUser) -> Principal:
    if user.role != Role.admin.value:
        raise PermissionDeniedError("administrators only")
    return user


AdminUser = Annotated[Principal, Depends(require_admin)]


class LoginRequired(Exception):
    """A page was asked for without a session: answered with a redirect to /login."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def page_principal(request: Request, state: StateDep) -> Principal:
    principal = lookup_principal(state, request.cookies.get(SESSION_COOKIE))
    if principal is None:
        raise LoginRequired(request.url.path)
    return principal


PageUser = Annotated[Principal, Depends(page_principal)]


def require_admin_page(user: PageUser) -> Principal:
    if not user.is_admin:
        raise PermissionDeniedError("administrators only")
    return user


AdminPageUser = Annotated[Principal, Depends(require_admin_page)]
