"""Login, logout and who-am-I (API.md: /api/v1/auth/*, /api/v1/me)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, select

from pathodesk.audit import record, record_by
from pathodesk.db.models import AuthSession, User
from pathodesk.errors import AuthenticationError
from pathodesk.i18n import LOCALES, supported
from pathodesk.passwords import verify_password
from pathodesk.web.deps import SESSION_COOKIE, CurrentUser, DbSession, StateDep
from pathodesk.web.i18n import LOCALE_COOKIE, remember_locale, request_locale
from pathodesk.web.security import new_token, token_digest

router = APIRouter(prefix="/api/v1", tags=["auth"])


class LoginRequest(BaseModel):
    account: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class LoginResponse(BaseModel):
    csrf_token: str
    account: str
    name: str
    role: str


class Me(BaseModel):
    id: int
    account: str
    name: str
    role: str
    csrf_token: str
    locale: str


class LocaleChoice(BaseModel):
    locale: str = Field(max_length=16, description="language of the pages: " + ", ".join(LOCALES))

    @field_validator("locale")
    @classmethod
    def known_locale(cls, value: str) -> str:
        known = supported(value)
        if known is None:
            raise ValueError(f"one of {', '.join(LOCALES)}")
        return known


@router.post("/auth/login")
def login(
    body: LoginRequest, request: Request, response: Response, session: DbSession, state: StateDep
) -> LoginResponse:
    account = body.account.strip().lower()
    client = request.client.host if request.client else "unknown"
    with state.login_throttle.attempt(account, client) as attempt:
        user = session.scalar(select(User).where(User.account == account))
        valid = verify_password(user.password_hash if user else None, body.password)
        if user is None or not valid or not user.active:
            # kept although this request fails; the request's own connection, never a second
            # one (a flood of failures must not hold two pooled connections each)
            record(
                session, actor_id=None, actor_account=account[:64], action="login_failed", record_type="user"
            )
            session.commit()
            raise AuthenticationError("unknown account or wrong password")
        attempt.success()
    token = new_token()
    now = datetime.now(UTC)
    row = AuthSession(
        token_hash=token_digest(token),
        csrf_token=new_token(),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(hours=state.settings.session_hours),
        last_seen_at=now,
    )
    user.last_login_at = now
    # the account's language wins; a first choice made on the login page becomes the account's
    user.locale = user.locale or supported(request.cookies.get(LOCALE_COOKIE))
    session.add(row)
    record(
        session,
        actor_id=user.id,
        actor_account=user.account,
        action="login",
        record_type="user",
        record_id=user.id,
    )
    session.flush()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(state.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )
    if user.locale:
        remember_locale(response, user.locale, state.settings.secure_cookies)
    return LoginResponse(
        csrf_token=row.csrf_token, account=user.account, name=user.name, role=user.role.value
    )


@router.post("/auth/logout", status_code=204)
def logout(request: Request, user: CurrentUser, session: DbSession, state: StateDep) -> Response:
    session.execute(delete(AuthSession).where(AuthSession.id == user.session_id))
    record_by(session, user, "logout", "user", user.user_id)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        state.principals.pop(token_digest(token))
    # the tiles this browser kept (immutable, for speed) go too: the next person at a shared
    # workstation finds nothing of this session's patients in its cache
    response = Response(status_code=204, headers={"Clear-Site-Data": '"cache"'})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me")
def me(user: CurrentUser, request: Request) -> Me:
    return Me(
        id=user.user_id,
        account=user.account,
        name=user.name,
        role=user.role,
        csrf_token=user.csrf_token,
        locale=request_locale(request),
    )


@router.put("/me/locale")
def choose_locale(
    body: LocaleChoice, user: CurrentUser, response: Response, session: DbSession, state: StateDep
) -> LocaleChoice:
    """The language switch: kept on the account and in a cookie for this browser."""
    account = session.get(User, user.user_id)
    if account is None:
        raise AuthenticationError("log in first")
    account.locale = body.locale
    remember_locale(response, body.locale, state.settings.secure_cookies)
    return body
