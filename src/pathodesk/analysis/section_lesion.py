"""The lesion registered again at higher resolution (SPEC D2 high level; issue 15, item 2):
after the whole sections are aligned on thumbnails, the window around what is drawn on the
reference is read from both slides at a finer pixel size and refined there
(``registration.region``). Skipped when the lesion is as coarse in the thumbnail as it would
be in its own window (a small slide, or outlines over most of it).
"""

from __future__ import annotations

from dataclasses import dataclass

from pathodesk.analysis.section_images import aligned_to_reference, read_window
from pathodesk.config import Settings
from pathodesk.db.models import Slide
from pathodesk.registration import RegistrationFailed, Transform
from pathodesk.registration.region import Window, refine_region, with_region

REGION_SIDE = 1536  # longest side of the lesion's window, px
MARGIN = 0.25  # around the lesion's bounds, of their size, each side (the detail fades out there)
MIN_GAIN = 1.5  # the window must be at least this much finer than the thumbnail


@dataclass(frozen=True)
class LesionPass:
    transform: Transform
    error_px: float  # the lesion's residual misfit, reference level-0 px
    downsample: float  # level-0 px per window px
    note: str


def grown(
    box: tuple[float, float, float, float], share: float, bounds: tuple[int, int]
) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    margin_x, margin_y = share * (x1 - x0), share * (y1 - y0)
    return (
        max(0.0, x0 - margin_x),
        max(0.0, y0 - margin_y),
        min(bounds[0], x1 + margin_x),
        min(bounds[1], y1 + margin_y),
    )


def refine_lesion(
    settings: Settings,
    reference: Slide,
    slide: Slide,
    transform: Transform,
    lesion: tuple[float, float, float, float],
    thumbnail_downsample: float,
    moving_per_fixed: float,
) -> LesionPass | None:
    """``transform`` (reference level-0 px → ``slide`` level-0 px) refined inside the lesion;
    ``moving_per_fixed``: the slide's level-0 px per reference level-0 px of the same tissue
    (1 when both were scanned alike). None when the window would not be finer."""
    box = grown(lesion, MARGIN, (reference.width, reference.height))
    x0, y0, x1, y1 = box
    downsample = max(1.0, max(x1 - x0, y1 - y0) / REGION_SIDE)
    if downsample * MIN_GAIN > thumbnail_downsample:
        return None
    fixed = read_window(settings, reference, box, downsample)
    shape = fixed.shape[:2]
    fixed_window = Window((x0, y0), shape[1] / (x1 - x0))

    aligned = aligned_to_reference(settings, slide, transform, box, downsample * moving_per_fixed, shape)
    if aligned is None:
        return None
    try:
        region = refine_region(fixed, aligned)
    except RegistrationFailed:  # e.g. no tissue in the other section's window
        return None
    return LesionPass(
        with_region(transform, fixed_window, shape, region.transform),
        region.error_px * downsample,
        downsample,
        f"lesion at {downsample:.2f} level-0 px per px ({thumbnail_downsample:.2f} for the whole section): "
        + "; ".join(region.notes),
    )
