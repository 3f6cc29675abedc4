"""The command line in the user's language (issue 21): ``PATHODESK_LOCALE``, else the POSIX
locale the shell sets (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, in gettext's order);
English where none of them names a language PathoDesk has.

Help texts, results and errors all go through ``_``; argparse's own words ("usage:", "the
following arguments are required") too, from the same catalogue (``ARGPARSE``).
"""

from __future__ import annotations

import argparse
import os
from functools import cache

from pathodesk.errors import PathoDeskError
from pathodesk.i18n import DEFAULT_LOCALE, N_, supported, translate_error, translations

LOCALE_VARIABLES = ("PATHODESK_LOCALE", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

# argparse's messages a user meets (Python 3.11's wording), so that they are in the catalogue
ARGPARSE = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("expected one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
)


@cache
def cli_locale() -> str:
    for name in LOCALE_VARIABLES:
        for value in os.environ.get(name, "").split(":"):  # LANGUAGE may list several
            code = value.split(".")[0].split("@")[0]  # zh_CN.UTF-8, sr_RS@latin
            if code and code not in ("C", "POSIX") and (known := supported(code)):
                return known
    return DEFAULT_LOCALE


def _(message: str) -> str:
    """``message`` in the user's language (English is the catalogue's key)."""
    return str(translations(cli_locale()).gettext(message))


def error_text(exc: PathoDeskError) -> str:
    return translate_error(cli_locale(), exc.message, exc.values)


def install() -> None:
    """argparse asks its module-level ``_`` for its words when it prints them."""
    argparse._ = _  # type: ignore[attr-defined]
