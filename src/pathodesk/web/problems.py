"""Every error leaves as RFC 9457 problem details: status, title, detail."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pathodesk.errors import PathoDeskError
from pathodesk.i18n import N_
from pathodesk.web.deps import LoginRequired
from pathodesk.web.i18n import request_locale, translate, translate_error
from pathodesk.web.templating import templates

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    body: dict[str, object] = {
        "type": "about:blank",
        "status": status,
        "title": title,
        "detail": detail,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


MACHINE_PATHS = ("/api/", "/dzi/", "/static/")


def wants_page(request: Request) -> bool:
    """A person's browser asking for a page (not the API, tiles or files): answer in HTML."""
    path = request.url.path
    return not path.startswith(MACHINE_PATHS) and "text/html" in request.headers.get("accept", "")


def answer(request: Request, status: int, title: str, detail: str, **extra: object) -> Response:
    """Problem details in the caller's language; an error page when a person asked for a page."""
    locale = request_locale(request)
    title, detail = translate(locale, title), translate(locale, detail)
    if wants_page(request):
        context = {"user": None, "status": status, "title": title, "detail": detail}
        return templates.TemplateResponse(request, "error.html", context, status_code=status)
    return problem(status, title, detail, **extra)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(_request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)

    @app.exception_handler(PathoDeskError)
    async def domain_error(request: Request, exc: PathoDeskError) -> Response:
        locale = request_locale(request)
        detail = translate_error(locale, exc.message, exc.values)
        return answer(request, exc.status, exc.title, detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(err.get("loc", ())), "msg": str(err.get("msg", ""))} for err in exc.errors()]
        title, detail = N_("Invalid input"), N_("the request does not match the schema")
        return answer(request, 422, title, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = {
            401: N_("Not authenticated"),
            403: N_("Forbidden"),
            404: N_("Not found"),
            405: N_("Method not allowed"),
        }.get(exc.status_code, N_("Error"))
        detail = N_("there is no page at this address") if exc.status_code == 404 else str(exc.detail)
        response = answer(request, exc.status_code, title, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
