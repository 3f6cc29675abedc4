"""Server-rendered pages; data-heavy parts call the JSON API from the browser."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from pathodesk.db.models import Exam, Slide
from pathodesk.errors import NotFoundError
from pathodesk.web.deps import SESSION_COOKIE, DbSession, StateDep, can_see, lookup_principal, visible_records
from pathodesk.web.routes.slides import to_detail, to_public
from pathodesk.web.state import AppState, Principal

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def _page_user(request: Request, state: AppState) -> Principal | None:
    return lookup_principal(state, request.cookies.get(SESSION_COOKIE))


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"user": None})


@router.get("/", response_class=HTMLResponse)
def slide_list_page(request: Request, state: StateDep, session: DbSession) -> Response:
    user = _page_user(request, state)
    if user is None:
        return _to_login(request)
    slides = [to_public(s) for s in session.scalars(visible_records(user, Slide, newest_first=True))]
    return templates.TemplateResponse(request, "slides.html", {"user": user, "slides": slides})


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, state: StateDep, session: DbSession) -> Response:
    user = _page_user(request, state)
    if user is None:
        return _to_login(request)
    exams = list(session.scalars(visible_records(user, Exam, newest_first=True)))
    return templates.TemplateResponse(request, "upload.html", {"user": user, "exams": exams})


@router.get("/slides/{slide_id}", response_class=HTMLResponse)
def viewer_page(slide_id: int, request: Request, state: StateDep, session: DbSession) -> Response:
    user = _page_user(request, state)
    if user is None:
        return _to_login(request)
    slide = session.get(Slide, slide_id)
    if slide is None or not can_see(user, slide.created_by_id):
        raise NotFoundError(f"slide {slide_id} does not exist")
    return templates.TemplateResponse(
        request, "viewer.html", {"user": user, "slide": to_detail(state, slide)}
    )
