"""XML from users is parsed with defusedxml: no entity expansion bombs, no external fetches."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from pathodesk.errors import ValidationFailedError


def parse_xml(data: bytes, what: str) -> Element:
    try:
        return fromstring(data)
    except (ParseError, DefusedXmlException) as exc:
        raise ValidationFailedError("not a readable %(what)s file (%(exc)s)", what=what, exc=exc) from None


def number(value: str | None, what: str) -> float:
    try:
        result = float(value or "")
    except ValueError:
        raise ValidationFailedError(
            "%(what)s is not a number: %(value)r", what=what, value=str(value)[:32]
        ) from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ValidationFailedError("%(what)s is not a finite number", what=what)
    return result
