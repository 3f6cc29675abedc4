"""Super-resolution of images of any size (SPEC E6, E8): cut into tiles with a margin of
context wider than the generator's reach, enlarge each, keep its centre. Because every
output pixel then sees exactly what it would see in one pass over the whole image, tiles
join without seams and memory stays bounded whatever the image's size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlalchemy.orm import Session

from pathodesk.db.models import TrainedModel
from pathodesk.errors import NotFoundError
from pathodesk.ml.registry import GENERAL_TYPE, active_model
from pathodesk.ml.superres_model import super_resolve
from pathodesk.ml.superres_nets import CONTEXT_LOW_PX, SuperResolutionNet

TILE_LOW_PX = 128  # low-resolution pixels enlarged per pass (bounded memory, good CPU use)


def super_resolve_tiled(
    model: SuperResolutionNet,
    low: np.ndarray,
    tile_px: int = TILE_LOW_PX,
    context_px: int = CONTEXT_LOW_PX,
    progress: Callable[[int, int], object] | None = None,
) -> np.ndarray:
    """RGB uint8 (h, w, 3) → (scale·h, scale·w, 3), the same as one pass over the whole image."""
    scale = model.scale
    height, width = low.shape[:2]
    out = np.empty((height * scale, width * scale, 3), np.uint8)
    boxes = [(top, left) for top in range(0, height, tile_px) for left in range(0, width, tile_px)]
    for done, (top, left) in enumerate(boxes, 1):
        bottom, right = min(top + tile_px, height), min(left + tile_px, width)
        y0, x0 = max(0, top - context_px), max(0, left - context_px)
        y1, x1 = min(height, bottom + context_px), min(width, right + context_px)
        enlarged = super_resolve(model, np.ascontiguousarray(low[y0:y1, x0:x1]))
        inner_top, inner_left = (top - y0) * scale, (left - x0) * scale
        out[top * scale : bottom * scale, left * scale : right * scale] = enlarged[
            inner_top : inner_top + (bottom - top) * scale, inner_left : inner_left + (right - left) * scale
        ]
        if progress:
            progress(done, len(boxes))
    return out


def superres_model_record(session: Session, scale: int, disease_type: str | None = None) -> TrainedModel:
    """The active super-resolution model of ``scale`` for ``disease_type``, else the general
    one (the type "unclassified": what the CLI uses without a type)."""
    model = active_model(session, disease_type, "superres", scale) if disease_type else None
    model = model or active_model(session, GENERAL_TYPE, "superres", scale)
    if model is None:
        raise NotFoundError("no active super-resolution model of scale %(scale)s: train one", scale=scale)
    return model
