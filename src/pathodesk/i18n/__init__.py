"""Languages of the pages and messages (issue 21): English and Simplified Chinese.

One gettext catalogue per language (``i18n/<locale>/LC_MESSAGES/messages.po``, read by Babel)
holds the page templates', the server's and the browser code's strings; English is the
source language, so its catalogue is empty. The ``.po`` text is compiled in memory when first
used: no compiled ``.mo`` file to forget to rebuild.
"""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DEFAULT_LOCALE = "en"
# code -> the language's own name, as the switch shows it
LOCALES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
CATALOGUE_DIR = Path(__file__).parent
DOMAIN = "messages"
FRONTEND_SOURCE = "frontend/"  # catalogue locations of the browser code's strings
COUNTED = re.compile(r"^(?P<text>.*\S) (?P<count>\d+/\d+)$")  # "classifying tiles 12/340"


def N_(message: str) -> str:
    """Marks a string for the catalogue where it is defined; translated where it is shown."""
    return message


def catalogue_path(locale: str) -> Path:
    return CATALOGUE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalogue(locale: str) -> Catalog | None:
    """The parsed ``.po`` of a language; None for the source language."""
    path = catalogue_path(locale)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


@cache
def translations(locale: str) -> NullTranslations:
    parsed = catalogue(locale)
    if parsed is None:
        return NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, parsed)  # fuzzy entries are left out, as gettext would
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@cache
def browser_messages(locale: str) -> dict[str, str]:
    """The translations the browser code needs (strings found in ``frontend/``), for the page."""
    parsed = catalogue(locale)
    if parsed is None:
        return {}
    return {
        str(message.id): str(message.string)
        for message in parsed
        if message.id
        and message.string
        and not message.fuzzy
        and any(path.startswith(FRONTEND_SOURCE) for path, _line in message.locations)
    }


def supported(code: str | None) -> str | None:
    """A known locale for ``code``: 'zh-CN', 'zh_cn' and 'zh' mean Simplified Chinese, 'en-GB'
    English; the language alone decides when the region is not one we have."""
    if not code:
        return None
    wanted = code.strip().replace("-", "_").lower()
    by_language = {known.split("_")[0].lower(): known for known in LOCALES}
    exact = {known.lower(): known for known in LOCALES}
    return exact.get(wanted) or by_language.get(wanted.split("_")[0])


def from_accept_language(header: str | None) -> str:
    """The best of our languages for an ``Accept-Language`` header (quality-ordered)."""
    if not header:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        ranked.append((-weight, f"{index:02d}{tag.strip()}"))
    preferred = [tag[2:].replace("-", "_") for _weight, tag in sorted(ranked) if tag[2:]]
    choice = negotiate_locale(preferred, list(LOCALES), sep="_", aliases={"zh": "zh_CN"})
    return choice if choice in LOCALES else DEFAULT_LOCALE


def html_lang(locale: str) -> str:
    """BCP 47 tag for ``<html lang>`` and ``Intl``: zh_CN -> zh-CN."""
    return locale.replace("_", "-")


def babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


def translate_error(locale: str, message: str, values: dict[str, object]) -> str:
    """A domain error's detail in ``locale``: its English text is the catalogue's key and its
    values are filled in after translating (the catalogue test keeps the placeholders)."""
    if not values:
        return translate(locale, message)
    try:
        return translations(locale).gettext(message) % values
    except (KeyError, TypeError, ValueError):  # a broken translation never hides the error
        return message % values


def translate(locale: str, message: str) -> str:
    """A server message in ``locale``; a count at its end ("… 12/340") is kept as it is."""
    gettext = translations(locale).gettext
    counted = COUNTED.match(message)
    if counted and gettext(message) == message:
        return f"{gettext(counted['text'])} {counted['count']}"
    return gettext(message)
