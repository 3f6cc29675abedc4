"""The tissue mask as polygons in level-0 pixels (for overlays and exports)."""

from __future__ import annotations

import cv2
import numpy as np
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import make_valid


def mask_to_polygons(mask: np.ndarray, mask_downsample: float, simplify_px: float = 1.0) -> MultiPolygon:
    """Outer contours with their holes, scaled from mask pixels to level-0 pixels."""
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    polygons: list[Polygon] = []
    if hierarchy is None:
        return MultiPolygon()
    for index, contour in enumerate(contours):
        if hierarchy[0][index][3] != -1 or len(contour) < 3:
            continue  # holes are attached to their parent below
        holes = []
        child = hierarchy[0][index][2]
        while child != -1:
            if len(contours[child]) >= 3:
                holes.append(contours[child][:, 0, :] * mask_downsample)
            child = hierarchy[0][child][0]
        polygon = Polygon(contour[:, 0, :] * mask_downsample, holes)
        polygon = polygon.simplify(simplify_px * mask_downsample)
        fixed = make_valid(polygon)
        parts = fixed.geoms if hasattr(fixed, "geoms") else [fixed]
        polygons += [part for part in parts if isinstance(part, Polygon) and not part.is_empty]
    return MultiPolygon(polygons)
