"""Every error leaves as RFC 9457 problem details: status, title, detail."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pathodesk.errors import PathoDeskError
from pathodesk.i18n import DEFAULT_LOCALE, N_, translate, translate_error
from pathodesk.web.deps import LoginRequired
from pathodesk.web.i18n import request_locale
from pathodesk.web.templating import templates

DATABASE_RETRY_SECONDS = 5

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
# request validation's reasons (pydantic error types) said in the caller's language; English
# callers keep pydantic's own words
FIELD_PROBLEMS = {
    "missing": N_("required"),
    "string_too_short": N_("at least %(min_length)s characters"),
    "string_too_long": N_("at most %(max_length)s characters"),
    "string_pattern_mismatch": N_("holds characters that are not allowed here"),
    "greater_than_equal": N_("at least %(ge)s"),
    "less_than_equal": N_("at most %(le)s"),
    "greater_than": N_("more than %(gt)s"),
    "less_than": N_("less than %(lt)s"),
    "int_parsing": N_("a whole number is needed"),
    "float_parsing": N_("a number is needed"),
    "bool_parsing": N_("yes or no is needed"),
    "literal_error": N_("one of %(expected)s"),
    "enum": N_("one of %(expected)s"),
    "json_invalid": N_("not valid JSON"),
    "date_from_datetime_parsing": N_("a date (YYYY-MM-DD) is needed"),
    "value_error": N_("not an allowed value"),
}


def field_problem(locale: str, error: dict[str, object]) -> str:
    """One field's reason: pydantic's words for English, the catalogue's otherwise."""
    message = FIELD_PROBLEMS.get(str(error.get("type")))
    context = error.get("ctx")
    if locale == DEFAULT_LOCALE or message is None:
        return str(error.get("msg", ""))
    values: dict[str, object] = (
        {str(k): str(v) for k, v in context.items()} if isinstance(context, dict) else {}
    )
    return translate_error(locale, message, values)


def wants_page(request: Request) -> bool:
    """A person's browser asking for a page (not the API, tiles or files): answer in HTML."""
    path = request.url.path
    return not path.startswith(MACHINE_PATHS) and "text/html" in request.headers.get("accept", "")


def answer(
    request: Request,
    status: int,
    title: str,
    detail: str,
    values: dict[str, object] | None = None,
    **extra: object,
) -> Response:
    """Problem details in the caller's language (``detail`` an English text with named
    ``values``, translated once here); an error page when a person asked for a page."""
    locale = request_locale(request)
    title, detail = translate(locale, title), translate_error(locale, detail, values or {})
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
        return answer(request, exc.status, exc.title, exc.message, exc.values)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        locale = request_locale(request)
        errors = [
            {"loc": list(err.get("loc", ())), "msg": field_problem(locale, dict(err))} for err in exc.errors()
        ]
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

    @app.exception_handler(IntegrityError)
    async def conflicting_write(request: Request, _exc: IntegrityError) -> Response:
        """Two requests saved what cannot both stand (one account created twice at the same
        moment, a record deleted while another was saved against it): the later one is told so,
        as any conflict, instead of getting a server error. Its transaction was rolled back."""
        title, detail = (
            N_("Conflict"),
            N_("someone else saved a conflicting change at the same moment; reload and try again"),
        )
        return answer(request, 409, title, detail)

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, _exc: OperationalError) -> Response:
        """The database is down or restarting (issue 19): say so and when to try again; the
        engine's pre-ping replaces dead connections once it is back."""
        title, detail = (
            N_("Service unavailable"),
            N_("the database cannot be reached; try again in a few seconds"),
        )
        response = answer(request, 503, title, detail)
        response.headers["Retry-After"] = str(DATABASE_RETRY_SECONDS)
        return response
