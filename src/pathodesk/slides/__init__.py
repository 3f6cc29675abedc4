"""Slide access: one reader protocol, several backends, Deep Zoom on top."""

from pathodesk.slides.base import SlideInfo, SlideReader, thumbnail
from pathodesk.slides.open import open_slide

__all__ = ["SlideInfo", "SlideReader", "open_slide", "thumbnail"]
