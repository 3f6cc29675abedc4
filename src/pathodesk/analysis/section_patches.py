"""A lesion's patches in every stain of a section group (SPEC D4: from a lesion annotation on
the reference, the same tissue cut from every registered stain; issue 16, items 1 and 5).

The lesion's box is read from the reference at the model's µm per px, and every other
section's tissue under it is resampled into the reference's pixels through its stored
transform (``section_images.aligned_to_reference``): turned, mirrored or bent as that
section lies, it comes out on the reference's grid, so one set of patch centres cuts the
same tissue from every stain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely.geometry import Point, shape

from pathodesk.analysis.section_images import aligned_to_reference, read_window
from pathodesk.config import Settings
from pathodesk.db.models import Slide
from pathodesk.errors import ValidationFailedError
from pathodesk.ml.fusion_data import MIN_TISSUE, StainStack, stacks_at, tissue_share, window_px
from pathodesk.registration import Transform

UNLABELLED = -1
MAX_PATCHES = 4000  # a lesion larger than this many patches is sampled evenly


@dataclass(frozen=True)
class Section:
    slide: Slide
    transform: Transform | None  # reference level-0 px → this slide's; None for the reference


def patch_downsample(reference: Slide, microns_per_px: float | None) -> float:
    """Reference level-0 px per patch px: the model's resolution on this slide."""
    if microns_per_px is None:
        return 1.0
    if reference.mpp is None:
        raise ValidationFailedError(
            "The reference slide has no pixel size, so the model's %(mpp).2f µm per px cannot be matched.",
            mpp=microns_per_px,
        )
    return max(microns_per_px / reference.mpp, 1e-3)


def lesion_stacks(
    settings: Settings,
    sections: Sequence[Section],
    geometry: dict[str, Any],
    patch_px: int,
    microns_per_px: float | None,
) -> tuple[list[StainStack], np.ndarray]:
    """Stacks (stains in the order of ``sections``; the reference is the one without a
    transform) of patches every ``patch_px`` inside the lesion where the reference shows
    tissue, and their centres in reference level-0 px."""
    reference = next(section.slide for section in sections if section.transform is None)
    downsample = patch_downsample(reference, microns_per_px)
    outline = shape(geometry)
    margin = window_px(patch_px) * downsample
    x0, y0, x1, y1 = outline.bounds
    box = (
        max(0.0, x0 - margin),
        max(0.0, y0 - margin),
        min(reference.width, x1 + margin),
        min(reference.height, y1 + margin),
    )
    reference_image = read_window(settings, reference, box, downsample)
    shape_px = reference_image.shape[:2]
    images = []
    for section in sections:
        if section.transform is None:
            images.append(reference_image)
            continue
        ratio = (reference.mpp / section.slide.mpp) if reference.mpp and section.slide.mpp else 1.0
        aligned = aligned_to_reference(
            settings, section.slide, section.transform, box, downsample * ratio, shape_px
        )
        if aligned is None:
            raise ValidationFailedError(
                "The lesion lies outside the %(slide)s section.", slide=section.slide.slide_number
            )
        images.append(aligned)
    scale = shape_px[1] / (box[2] - box[0])  # window px per level-0 px
    half = patch_px // 2
    centres = [
        (x, y)
        for y in range(half, shape_px[0] - half + 1, patch_px)
        for x in range(half, shape_px[1] - half + 1, patch_px)
        if outline.contains(Point(box[0] + x / scale, box[1] + y / scale))
        and tissue_share(reference_image[y - half : y + half, x - half : x + half]) >= MIN_TISSUE
    ]
    chosen = np.asarray(centres, np.float64).reshape(-1, 2)[:: max(1, len(centres) // MAX_PATCHES)]
    stacks = stacks_at(images, chosen, [UNLABELLED] * len(chosen), "lesion", patch_px)
    return stacks, np.asarray(box[:2]) + chosen / scale
