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

STORE_DOWNSAMPLES = (1, 2, 4, 8)  # E1: a slide kept at 1/N of its scan's resolution; 8 keeps 1/64


class StoredSlide(Protocol):
    """What storage needs of a slide row (``db.models.Slide`` has it)."""

    id: int
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


def analysis_folder(settings: Settings, slide: StoredSlide) -> Path:
    """Where a slide's latest analysis is written (tile scores, heatmaps, summary): per
    slide, since the same bytes may be two slides of different cases and disease types."""
    return settings.analysis_dir / f"slide-{slide.id}"


def existing_analysis_folder(settings: Settings, slide: StoredSlide) -> Path:
    """Where to read it: analyses made before slides could share a file sit under the checksum."""
    own, legacy = analysis_folder(settings, slide), settings.analysis_dir / slide.sha256
    return legacy if not own.exists() and legacy.exists() else own


def discard_slide_files(settings: Settings, slide: StoredSlide, keep_file: bool = False) -> None:
    """The slide's analysis, and unless ``keep_file`` (another slide shares the bytes) its file
    and the QC pictures of those bytes."""
    shutil.rmtree(settings.analysis_dir / f"slide-{slide.id}", ignore_errors=True)
    if keep_file:
        return
    slide_file(settings, slide).unlink(missing_ok=True)
    shutil.rmtree(settings.qc_dir / slide.sha256, ignore_errors=True)
    shutil.rmtree(settings.analysis_dir / slide.sha256, ignore_errors=True)
