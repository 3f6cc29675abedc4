"""``open_slide``: pick the backend for a file by its content, not its name (``backends``)."""

from __future__ import annotations

from pathlib import Path

from pathodesk.errors import UnsupportedSlideError
from pathodesk.slides.backends import HEAD_BYTES, backend_for
from pathodesk.slides.base import SlideReader


def open_slide(path: Path) -> SlideReader:
    """Open any supported slide, or raise ``UnsupportedSlideError`` saying why not."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise UnsupportedSlideError(
            "cannot open %(name)s: %(strerror)s", name=path.name, strerror=exc.strerror
        ) from exc
    if not head:
        raise UnsupportedSlideError("%(name)s is empty", name=path.name)
    return backend_for(path, head).open(path)
