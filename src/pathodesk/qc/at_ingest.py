"""Quality control while a slide is ingested (SPEC E2): a failing slide is stored, but marked
non-standard; with sampling, only a set share of a batch is checked.

QC never blocks ingest: if a check itself fails (an odd format), the slide is stored
unchecked and the reason is kept in its report.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from pathodesk.qc.overlays import write_images
from pathodesk.qc.report import run_qc
from pathodesk.sampledata import SampleDataError, fetch_he_reference
from pathodesk.slides.base import SlideReader

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _reference(sample_dir: Path) -> np.ndarray:
    return np.asarray(Image.open(fetch_he_reference(sample_dir)).convert("RGB"))


def selected_for_qc(sha256: str, fraction: float) -> bool:
    """Deterministic sampling by checksum: the same file is always in or out."""
    return int(sha256[:8], 16) / 0xFFFFFFFF < fraction


def qc_at_ingest(
    reader: SlideReader, sha256: str, sample_dir: Path, fraction: float, images_dir: Path
) -> tuple[bool | None, dict[str, object]]:
    """Run QC and write its pictures to ``images_dir`` (see qc.overlays)."""
    if not selected_for_qc(sha256, fraction):
        return None, {"sampled": False}
    try:
        report = run_qc(reader, _reference(sample_dir))
        write_images(report, images_dir)
    except (SampleDataError, OSError, ValueError) as exc:
        log.warning("quality control could not run on slide %s: %s", sha256[:12], type(exc).__name__)
        return None, {"sampled": True, "error": str(exc)[:500]}
    return report.passed, {"sampled": True, **report.as_json()}
