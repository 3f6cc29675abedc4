"""Where a login may send the browser next: only a path on this site.

Browsers read ``/\\evil.example/`` as ``//evil.example/`` and drop tabs and newlines before
parsing, so a check of the first characters alone is not enough (issue 20, C): anything but
a plain absolute path of printable characters becomes ``/``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

HOME = "/"


def safe_next(value: str | None) -> str:
    if not value or len(value) > 2048 or not value.startswith("/"):
        return HOME
    if "\\" in value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return HOME
    return value
