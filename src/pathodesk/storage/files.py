"""The one way to find, store and discard a slide's file and the files derived from it.

Today every slide lives in the local ``slides_dir`` (the "recent" tier, full resolution);
``Slide.storage_tier`` and ``Slide.resolution_state`` say so. Tiers (E4) and low-resolution
storage (E1) change these functions, not their callers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

from pathodesk.config import Settings


class StoredSlide(Protocol):
    """What storage needs of a slide row (``db.models.Slide`` has it)."""

    path: str
    sha256: str


def slide_file(settings: Settings, slide: StoredSlide) -> Path:
    """The local path a reader opens for ``slide``."""
    return settings.slides_dir / slide.path


def slide_location(sha256: str, suffix: str) -> str:
    """Where a new slide's file will live, as kept on its row: content-addressed, so
    identical bytes are one file."""
    return str(Path(sha256[:2]) / f"{sha256}{suffix}")


def store_slide_file(settings: Settings, staged: Path, location: str) -> Path:
    """Move a validated staged file to ``location`` (an atomic rename within the data
    directory); returns the stored path, for the caller to remove if its commit fails."""
    final = settings.slides_dir / location
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)
    return final


def discard_slide_files(settings: Settings, slide: StoredSlide) -> None:
    """The slide's file and everything derived from it (QC pictures, analysis results)."""
    slide_file(settings, slide).unlink(missing_ok=True)
    shutil.rmtree(settings.qc_dir / slide.sha256, ignore_errors=True)
    shutil.rmtree(settings.analysis_dir / slide.sha256, ignore_errors=True)
