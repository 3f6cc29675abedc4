"""Quality control while a slide is ingested (SPEC E2): a failing slide is stored, but marked
non-standard; with sampling, only a set share of a batch is checked.

QC never blocks ingest: if a check itself fails (an odd format), the slide is stored
unchecked and the reason is kept in its report.
"""

from __future__ import annotations

import logging

from pathodesk.config import Settings
from pathodesk.qc.colour_reference import NO_REFERENCE, current_references, histograms
from pathodesk.qc.overlays import write_images
from pathodesk.qc.report import run_qc
from pathodesk.sampledata import SampleDataError
from pathodesk.slides.base import SlideReader

log = logging.getLogger(__name__)


def selected_for_qc(sha256: str, fraction: float) -> bool:
    """Deterministic sampling by checksum: the same file is always in or out."""
    return int(sha256[:8], 16) / 0xFFFFFFFF < fraction


def qc_at_ingest(
    reader: SlideReader, sha256: str, settings: Settings
) -> tuple[bool | None, dict[str, object]]:
    """QC of a new file, if sampling selects it."""
    if not selected_for_qc(sha256, settings.qc_sample_fraction):
        return None, {"sampled": False}
    return checked(reader, sha256, settings)


def checked(
    reader: SlideReader, sha256: str, settings: Settings, *, replace: bool = False
) -> tuple[bool | None, dict[str, object]]:
    """Run QC against the lab's colour reference of the slide's stain and write its pictures
    (see qc.overlays); ``replace``: over those of an earlier run (``lifecycle.qc_recheck``)."""
    try:
        references = current_references(settings)
        report = run_qc(reader, histograms(references))
        write_images(report, settings.qc_dir / sha256, replace=replace)
    except (SampleDataError, OSError, ValueError) as exc:
        log.warning("quality control could not run on slide %s: %s", sha256[:12], type(exc).__name__)
        return None, {"sampled": True, "error": str(exc)[:500]}
    used = references.get(report.stain)
    described = used.describe() if used else {"key": NO_REFERENCE, "stain": report.stain}
    return report.passed, {"sampled": True, **report.as_json(), "colour_reference": described}
