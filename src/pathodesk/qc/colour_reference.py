"""The standard image the colour check compares every slide with (SPEC E2; seed 004, [0061]:
the colour histogram of the *standard image* against the slide's).

By default it is TIAToolbox's H&E target, one TCGA lung tile. H&E differs from lab to lab as
much as a colour cast does: against that tile, 5-20 % channel casts of ThyHisTer's 6 slides
hardly score above the clean slides (AUC 0.60), against one of that lab's own slides they do
(0.97-1.00; ``tests/qc/test_colour_reference.py`` on ``../shared/data``). So a lab makes one
of its own slides the standard: its colour histogram (tissue only, at the QC thumbnail's
scale, as the check sees slides) is kept here, and slides are measured against its staining.

Kept as a small JSON file beside the QC pictures, written whole (temporary file, rename):
the histogram's non-zero bins, the slide it came from, who set it and when, and a key that
names it. Each QC report records the key of the reference it was made against, so a change
of reference knows which reports to make again (``lifecycle.qc_recheck``).

One reference per stain (``stain.kind``): an H&E slide is measured against the H&E reference,
an immunohistochemistry slide against the lab's IHC reference slide. There is no built-in
IHC picture: how much DAB a slide holds depends on the marker and the tumour, not only on
the staining, so only a lab's own slide of its own stains can be the standard, and until an
administrator chooses one the colour check does not apply to IHC slides.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from pathodesk.config import Settings
from pathodesk.errors import ValidationFailedError
from pathodesk.qc.colour import BINS, colour_histogram
from pathodesk.sampledata import fetch_he_reference
from pathodesk.slides.base import SlideReader
from pathodesk.stain.kind import HE, IHC, STAINS, detect_stain
from pathodesk.tissue import detect_tissue
from pathodesk.tissue.mask import tissue_mask

log = logging.getLogger(__name__)

REFERENCE_FILE = "colour-reference.json"  # H&E's, under the name it had before IHC had one
REFERENCE_FILES = {HE: REFERENCE_FILE, IHC: "colour-reference-ihc.json"}
BUILT_IN = "built-in"  # the key of TIAToolbox's tile; reports without a key were made with it
NO_REFERENCE = "none"  # the key of a stain without a reference: its colour is not checked


@dataclass(frozen=True)
class ColourReference:
    histogram: np.ndarray  # BINS³, sums to 1
    key: str = BUILT_IN
    slide_id: int | None = None  # the lab's standard slide; None: the built-in tile
    set_by: int | None = None  # user id
    set_at: str | None = None  # ISO 8601, UTC
    stain: str = HE  # the slides it is the standard of (``stain.kind``)

    def describe(self) -> dict[str, object]:
        """What a QC report and the API say about it."""
        return {
            "key": self.key,
            "slide_id": self.slide_id,
            "set_by": self.set_by,
            "set_at": self.set_at,
            "stain": self.stain,
        }


def key_of(reference: ColourReference | None) -> str:
    return reference.key if reference else NO_REFERENCE


def image_histogram(rgb: np.ndarray) -> np.ndarray:
    """The tissue's colours of a reference picture (all of it, if no tissue is found)."""
    mask = tissue_mask(rgb)
    return colour_histogram(rgb, mask if mask.any() else None)


def slide_histogram(reader: SlideReader) -> tuple[np.ndarray, str]:
    """The tissue's colours of a slide, seen as the colour check sees every slide, and its stain."""
    tissue = detect_tissue(reader)
    if tissue.dark_field:
        raise ValidationFailedError("A fluorescence slide cannot be the colour reference of stained slides.")
    if not tissue.mask.any():
        raise ValidationFailedError("No tissue was found on this slide to take its colours from.")
    stain = detect_stain(tissue.thumbnail_hsv, tissue.mask)
    return colour_histogram(tissue.thumbnail, tissue.mask), stain


@lru_cache(maxsize=4)
def built_in(sample_dir: Path) -> ColourReference:
    rgb = np.asarray(Image.open(fetch_he_reference(sample_dir)).convert("RGB"))
    return ColourReference(image_histogram(rgb))


def _path(settings: Settings, stain: str) -> Path:
    return settings.qc_dir / REFERENCE_FILES[stain]


def _key(histogram: np.ndarray) -> str:
    return "lab-" + hashlib.sha256(np.round(histogram, 9).tobytes()).hexdigest()[:16]


def lab_reference(
    histogram: np.ndarray, slide_id: int, set_by: int | None, set_at: datetime, stain: str = HE
) -> ColourReference:
    timestamp = set_at.isoformat(timespec="seconds")
    return ColourReference(histogram, _key(histogram), slide_id, set_by, timestamp, stain)


def current_reference(settings: Settings, stain: str = HE) -> ColourReference | None:
    """The lab's standard slide of ``stain`` if one is set, else the built-in tile for H&E
    and none for IHC. A file that cannot be read is reported and taken as not set (QC never
    blocks an upload)."""
    path = _path(settings, stain)
    try:
        stored = json.loads(path.read_text())
        histogram = np.zeros(BINS**3)
        histogram[np.asarray(stored["bins"], dtype=np.int64)] = np.asarray(
            stored["weights"], dtype=np.float64
        )
        if not np.isclose(histogram.sum(), 1.0, atol=1e-6) or (histogram < 0).any():
            raise ValueError("the histogram does not sum to one")
        return ColourReference(
            histogram, str(stored["key"]), stored["slide_id"], stored["set_by"], stored["set_at"], stain
        )
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        log.warning("the lab's %s colour reference cannot be read (%s)", stain, type(exc).__name__)
    return built_in(settings.sample_dir) if stain == HE else None


def current_references(settings: Settings) -> dict[str, ColourReference | None]:
    return {stain: current_reference(settings, stain) for stain in STAINS}


def histograms(references: dict[str, ColourReference | None]) -> dict[str, np.ndarray | None]:
    """What ``qc.report.run_qc`` takes: per stain, the reference's colours (None: none set)."""
    return {stain: None if ref is None else ref.histogram for stain, ref in references.items()}


def save_reference(settings: Settings, reference: ColourReference) -> None:
    bins = np.flatnonzero(reference.histogram)
    document = {
        **reference.describe(),
        "bins": bins.tolist(),
        "weights": [float(w) for w in reference.histogram[bins]],
    }
    path = _path(settings, reference.stain)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".reference-", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(document, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def clear_reference(settings: Settings, stain: str = HE) -> None:
    """Back to the built-in tile (H&E) or to none (IHC)."""
    _path(settings, stain).unlink(missing_ok=True)


def source_of(key: str) -> str:
    """ "built-in", "lab" or "none", as pages and the API name a reference."""
    return key if key in (BUILT_IN, NO_REFERENCE) else "lab"


def report_stain(report: dict[str, object] | None) -> str | None:
    """The stain a stored QC report names (``stain.kind``); None: made before stains were told."""
    stain = (report or {}).get("stain")
    return stain if isinstance(stain, str) else None


def report_key(report: dict[str, object] | None) -> str:
    """The reference key a stored QC report was made against."""
    described = (report or {}).get("colour_reference")
    return str(described.get("key", BUILT_IN)) if isinstance(described, dict) else BUILT_IN
