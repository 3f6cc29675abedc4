"""The caller's language on every page and message (issue 21, item 1).

The choice travels in a cookie: set when a user picks a language (and stored on the account,
so the next login on another computer brings it back), otherwise the browser's
``Accept-Language`` decides. Templates get ``_()`` bound to that language per render, never a
process-wide installed translation (requests in different languages run side by side).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from babel.dates import format_datetime
from babel.numbers import format_decimal
from babel.units import format_unit
from fastapi import Depends, Request, Response
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from pathodesk.db.models import DiseaseType
from pathodesk.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    babel_locale,
    browser_messages,
    from_accept_language,
    html_lang,
    supported,
    translations,
)
from pathodesk.web.vocabulary import TERMS, class_names, term, terms_in, translated

LOCALE_COOKIE = "pathodesk_locale"
LOCALE_COOKIE_DAYS = 365


def request_locale(request: Request) -> str:
    """Chosen on this request (the login page's switch), else the cookie, else the browser's."""
    chosen: str | None = getattr(request.state, "locale", None)
    return (
        chosen
        or supported(request.cookies.get(LOCALE_COOKIE))
        or from_accept_language(request.headers.get("accept-language"))
    )


RequestLocale = Annotated[str, Depends(request_locale)]


def remember_locale(response: Response, locale: str, secure: bool) -> None:
    response.set_cookie(
        LOCALE_COOKIE,
        locale,
        max_age=LOCALE_COOKIE_DAYS * 86400,
        httponly=False,  # not a secret; the page's own script may read it
        samesite="lax",
        secure=secure,
        path="/",
    )


def _locale_of(context: Context) -> str:
    return str(context.get("locale") or DEFAULT_LOCALE)


@pass_context
def template_gettext(context: Context, message: str, **variables: object) -> str:
    """``{{ _("Slides (%(n)s)", n=count) }}``: translated, then filled (values escaped)."""
    text: str = translations(_locale_of(context)).gettext(message)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 (our catalogue, trusted as Jinja's own gettext does)
    return text % variables if variables else text


@pass_context
def format_number(context: Context, value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=babel_locale(_locale_of(context)))


@pass_context
def format_significant(context: Context, value: float | None, digits: int = 3) -> str:
    """A measurement to ``digits`` significant digits: a tumour of 12.4 mm² and a focus of
    0.00996 mm² both keep their precision, where a fixed number of decimals loses one."""
    if value is None:
        return "—"
    return format_decimal(value, format="@" * digits, locale=babel_locale(_locale_of(context)))


@pass_context
def format_bytes(context: Context, value: int | None) -> str:
    """A size in the reader's language with the short units every hospital reads (kB, MB, GB)."""
    if value is None:
        return "—"
    units = ("digital-byte", "digital-kilobyte", "digital-megabyte", "digital-gigabyte", "digital-terabyte")
    amount, unit = float(value), 0
    while amount >= 1000 and unit < len(units) - 1:
        amount, unit = amount / 1000, unit + 1
    return format_unit(
        amount, units[unit], length="short", format="#,##0.#", locale=babel_locale(_locale_of(context))
    )


@pass_context
def format_time(context: Context, value: datetime | None) -> Markup:
    """A ``<time>`` the browser shows in the reader's own time zone; UTC text until then."""
    if value is None:
        return Markup("—")
    text = format_datetime(value, "medium", tzinfo=UTC, locale=babel_locale(_locale_of(context)))
    return Markup('<time datetime="{}">{} UTC</time>').format(value.isoformat(), text)


@pass_context
def template_term(context: Context, kind: str, code: str | None) -> str:
    """``{{ term("status", s.status) }}``: a code's display name (``web.vocabulary``), or the
    one the database gives it (classes and disease types, ``data_terms``)."""
    named = context.get("data_terms", {}).get(kind, {})
    return str(named[code]) if code in named else term(_locale_of(context), kind, code)


def _data_terms(request: Request, locale: str) -> dict[str, dict[str, str]]:
    """Display names kept in the database (disease types, the classes administrators add), read
    per page: they may have just changed, on any replica. A page still renders when the
    database cannot answer."""
    state = getattr(request.app.state, "pathodesk", None)
    if state is None:
        return {}
    try:
        with state.db.session() as session:
            rows = select(DiseaseType.name, DiseaseType.display_name, DiseaseType.labels)
            types = session.execute(rows).all()
    except SQLAlchemyError:
        return {}
    return {
        "class": class_names((labels for _, _, labels in types), locale),
        "disease_type": {name: translated(locale, display) for name, display, _ in types},
    }


def page_context(request: Request) -> dict[str, object]:
    """What every template gets: the language, the switch's choices and the browser's strings
    (``browser_i18n``: the messages of ``frontend/`` and the display names of codes)."""
    locale = request_locale(request)
    data_terms = _data_terms(request, locale)
    terms = terms_in(locale)
    for kind, names in data_terms.items():
        terms.setdefault(kind, {}).update(names)
    return {
        "locale": locale,
        "lang": html_lang(locale),
        "locales": LOCALES,
        "terms": TERMS,
        "data_terms": data_terms,
        "browser_i18n": {"messages": browser_messages(locale), "terms": terms},
    }


def install(environment: Environment) -> None:
    """Bind ``_``, ``term`` and the number and time filters into a Jinja environment."""
    environment.globals.update(_=template_gettext, term=template_term)
    environment.filters.update(
        number=format_number, significant=format_significant, localtime=format_time, bytes=format_bytes
    )
