"""The one way to find, store and discard a slide's file and the files derived from it.

A slide's row says which permanent tier keeps its file (``storage_tier``, E4) and where on it
(``path``, the same on every tier); tiers, moves and low-resolution storage (E1) change these
functions, not their callers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from pathodesk.config import Settings
from pathodesk.db.models import StorageTier
from pathodesk.storage.file_locks import file_in_use, lock_stored_file
from pathodesk.storage.temporary import drop_generated
from pathodesk.storage.tiers import (
    forget_retrieved,
    local_file,
    mirror_backend,
    tier_backend,
    tiers_to_search,
)

STORE_DOWNSAMPLES = (1, 2, 4, 8)  # E1: a slide kept at 1/N of its scan's resolution; 8 keeps 1/64


class StoredSlide(Protocol):
    """What storage needs of a slide row (``db.models.Slide`` has it)."""

    id: int
    path: str
    sha256: str
    storage_tier: StorageTier


def slide_file(settings: Settings, slide: StoredSlide) -> Path:
    """The local path a reader opens for ``slide`` (E5 retrieve: fetched first from a tier in
    object storage). A file that a move has just switched to another tier is found there."""
    recorded = StorageTier(slide.storage_tier)
    for tier in tiers_to_search(recorded):
        found = local_file(settings, tier, slide.path)
        if found is not None:
            return found
    # nowhere: the path the caller's reader will report as missing
    return tier_backend(settings, recorded).local_path(slide.path) or settings.cache_dir / slide.path


def slide_location(sha256: str, suffix: str) -> str:
    """Where a new slide's file will live, as kept on its row: content-addressed, so
    identical bytes are one file."""
    return str(Path(sha256[:2]) / f"{sha256}{suffix}")


def store_slide_file(settings: Settings, staged: Path, location: str, tier: StorageTier) -> None:
    """Put a validated staged file at ``location`` on ``tier`` (E5 save): a rename when the
    tier is a folder on the same disk, else a copy written whole or not at all. The caller
    holds the file's lock until its commit, and removes it with ``discard_unused_file`` if the
    commit fails."""
    backend = tier_backend(settings, tier)
    final = backend.local_path(location)
    if final is not None:
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staged, final)
            return
        except OSError:
            pass  # another file system: copied below
    with staged.open("rb") as source:
        backend.write(source, location, staged.stat().st_size)


def discard_stored_file(settings: Settings, location: str, tier: StorageTier) -> None:
    """A kept file, from its tier, the mirror and the local copies of object storage."""
    tier_backend(settings, tier).delete(location)
    mirror = mirror_backend(settings)
    if mirror is not None:
        mirror.delete(location)
    forget_retrieved(settings, location)


def analysis_folder(settings: Settings, slide: StoredSlide) -> Path:
    """Where a slide's latest analysis is written (tile scores, heatmaps, summary): per
    slide, since the same bytes may be two slides of different cases and disease types."""
    return settings.analysis_dir / f"slide-{slide.id}"


def existing_analysis_folder(settings: Settings, slide: StoredSlide) -> Path:
    """Where to read it: analyses made before slides could share a file sit under the checksum."""
    own, legacy = analysis_folder(settings, slide), settings.analysis_dir / slide.sha256
    return legacy if not own.exists() and legacy.exists() else own


def discard_unused_file(
    session: Session, settings: Settings, path: str, tier: StorageTier, sha256: str | None = None
) -> bool:
    """Delete the file kept at ``path`` on ``tier`` (and its mirror and local copies) unless a
    slide uses it or, given ``sha256``, has the same bytes; commits ``session``. The file's lock
    is held from the look to the delete, so an upload linking a new slide to it waits, then
    finds it gone and stores its own bytes."""
    lock_stored_file(session, path)
    unused = not file_in_use(session, path, sha256=sha256)
    if unused:
        discard_stored_file(settings, path, tier)
    session.commit()
    return unused


def release_slide_files(session: Session, settings: Settings, slide: StoredSlide) -> bool:
    """After a slide's row is gone: its analysis, and its file, the QC pictures of its bytes and
    the images generated from them (E8) unless another slide still uses them (the same bytes in
    another case). True when the file went."""
    shutil.rmtree(settings.analysis_dir / f"slide-{slide.id}", ignore_errors=True)
    if not discard_unused_file(session, settings, slide.path, StorageTier(slide.storage_tier), slide.sha256):
        return False
    drop_generated(settings, slide.sha256)
    shutil.rmtree(settings.qc_dir / slide.sha256, ignore_errors=True)
    shutil.rmtree(settings.analysis_dir / slide.sha256, ignore_errors=True)
    return True
