"""Finds every string to translate in the source tree, for the catalogue and its test.

Templates (``_()`` in Jinja), Python (``_``/``N_``, and the first argument of the domain
errors raised with a fixed text: their ``detail`` is shown to people as it is) and the
browser code (``t()``). A developer tool: it reads the repository, not the installed package.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

from pathodesk.i18n import DOMAIN

ERROR_CLASSES = (
    "PathoDeskError",
    "UnsupportedSlideError",
    "NotFoundError",
    "ConflictError",
    "PayloadTooLargeError",
    "ValidationFailedError",
    "AuthenticationError",
    "PermissionDeniedError",
    "TooManyAttemptsError",
    "RegistrationFailed",
    "StorageUnavailableError",
    "StorageFullError",
    "CorruptCopyError",
    "ReachBeyondMarginError",
)
PYTHON_KEYWORDS: dict[str, None] = {"_": None, "N_": None, "gettext": None} | dict.fromkeys(ERROR_CLASSES)

# (folder under the repository, Babel method map, keywords)
SOURCES: tuple[tuple[str, list[tuple[str, str]], dict[str, None] | None], ...] = (
    ("src/pathodesk/web/templates", [("**.html", "jinja2")], None),
    ("src/pathodesk", [("**.py", "python")], PYTHON_KEYWORDS),
    ("frontend/src", [("**.js", "javascript")], {"t": None}),
)


def extract_catalogue(root: Path) -> Catalog:
    """A template catalogue (msgids and where each is used) of the repository at ``root``."""
    catalogue = Catalog(domain=DOMAIN, project="PathoDesk", fuzzy=False)
    for folder, method_map, keywords in SOURCES:
        found = extract_from_dir(
            root / folder,
            method_map=method_map,
            keywords=keywords or {"_": None, "gettext": None, "ngettext": (1, 2)},
            strip_comment_tags=True,
        )
        for filename, line, message, comments, context in found:
            catalogue.add(
                message, None, [(f"{folder}/{filename}", line)], auto_comments=comments, context=context
            )
    return catalogue
