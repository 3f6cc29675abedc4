"""Brings the translation catalogues up to date with the source (issue 21, item 1).

Run after adding or changing a string in a template, in Python (``_``/``N_``/a fixed domain
error text) or in the browser code (``t()``): new strings arrive untranslated (the test
``tests/web/test_i18n.py`` then fails until a translator fills them in), vanished ones are
dropped, and every string keeps the places it is used.

    .venv/bin/python scripts/update_catalogue.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pathodesk.i18n import DEFAULT_LOCALE, DOMAIN, LOCALES, catalogue, catalogue_path  # noqa: E402
from pathodesk.i18n.extract import extract_catalogue  # noqa: E402


def update(locale: str) -> tuple[int, int]:
    template = extract_catalogue(ROOT)
    current = catalogue(locale) or Catalog(locale=locale, domain=DOMAIN, project="PathoDesk")
    current.update(template, no_fuzzy_matching=True)
    current.obsolete.clear()
    current.fuzzy = False
    current.version, current.copyright_holder = "0.1.0", "PathoDesk contributors"
    current.msgid_bugs_address, current.last_translator = "", "PathoDesk contributors"
    current.header_comment = (
        f"# {LOCALES[locale]} — PathoDesk (scripts/update_catalogue.py keeps it in step)."
    )
    path = catalogue_path(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, current, width=100, sort_output=True, omit_header=False)
    missing = sum(1 for message in current if message.id and not message.string)
    return len(current), missing


def main() -> None:
    for locale in LOCALES:
        if locale == DEFAULT_LOCALE:
            continue
        total, missing = update(locale)
        print(f"{catalogue_path(locale).relative_to(ROOT)}: {total} strings, {missing} untranslated")


if __name__ == "__main__":
    main()
