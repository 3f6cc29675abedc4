"""Every error leaves as RFC 9457 problem details: status, title, detail."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pathodesk.errors import PathoDeskError
from pathodesk.i18n import N_
from pathodesk.web.deps import LoginRequired
from pathodesk.web.i18n import request_locale, translate

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


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(_request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)

    @app.exception_handler(PathoDeskError)
    async def domain_error(request: Request, exc: PathoDeskError) -> JSONResponse:
        locale = request_locale(request)
        return problem(exc.status, translate(locale, exc.title), translate(locale, exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        locale = request_locale(request)
        errors = [{"loc": list(err.get("loc", ())), "msg": str(err.get("msg", ""))} for err in exc.errors()]
        title, detail = N_("Invalid input"), N_("the request does not match the schema")
        return problem(422, translate(locale, title), translate(locale, detail), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {
            401: N_("Not authenticated"),
            403: N_("Forbidden"),
            404: N_("Not found"),
            405: N_("Method not allowed"),
        }.get(exc.status_code, N_("Error"))
        locale = request_locale(request)
        response = problem(exc.status_code, translate(locale, title), translate(locale, str(exc.detail)))
        if exc.headers:
            response.headers.update(exc.headers)
        return response
