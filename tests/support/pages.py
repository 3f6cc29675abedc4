"""Reading server-rendered pages as a person reads them."""

from __future__ import annotations

import html
import re


def text_of(page: str) -> str:
    """What a reader sees: scripts (the page's message catalogue) and tags dropped, entities
    decoded, spaces collapsed."""
    shown = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", shown)))
