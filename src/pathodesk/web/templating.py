"""The Jinja templates of the pages and error pages, with the caller's language bound in."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from pathodesk.web.i18n import install, page_context

templates = Jinja2Templates(directory=Path(__file__).parent / "templates", context_processors=[page_context])
install(templates.env)
