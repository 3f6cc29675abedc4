"""Training tiles from annotated slides (issue 6, item 1b): every grid tile lying mostly
inside an annotation takes the annotation's class; the slide is the group.

Annotations are read as QuPath GeoJSON (``properties.classification.name``), the format the
annotation editor exports, in level-0 pixels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from pathodesk.ml.data import DataError, LabelledSet, Region, Sample

MIN_INSIDE = 0.5  # share of a tile's area that must lie in the annotation


def read_geojson_classes(path: Path) -> list[tuple[str, BaseGeometry]]:
    """(class name, geometry) of every classified feature."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path.name}: not a readable GeoJSON file ({exc})") from None
    features = document.get("features", []) if isinstance(document, dict) else []
    found = []
    for feature in features:
        classification = (feature.get("properties") or {}).get("classification") or {}
        name = classification.get("name")
        if name and feature.get("geometry"):
            geometry = shape(feature["geometry"])
            found.append((str(name), geometry if geometry.is_valid else geometry.buffer(0)))
    return found


def annotated_slide_tiles(
    slides: list[tuple[Path, Path]], tile_px: int, labels: list[str] | None = None
) -> LabelledSet:
    """Tiles of ``tile_px`` level-0 pixels from (slide, GeoJSON) pairs."""
    annotations = [(slide, read_geojson_classes(geojson)) for slide, geojson in slides]
    names = labels or sorted({name for _, found in annotations for name, _ in found})
    if len(names) < 2:
        raise DataError("annotated slides need at least two classes")
    samples = []
    for slide, found in annotations:
        for name, geometry in found:
            if name not in names:
                continue
            inside = prep(geometry)
            x0, y0, x1, y1 = geometry.bounds
            for row in range(math.floor(y0 / tile_px), math.ceil(y1 / tile_px)):
                for col in range(math.floor(x0 / tile_px), math.ceil(x1 / tile_px)):
                    tile = box(col * tile_px, row * tile_px, (col + 1) * tile_px, (row + 1) * tile_px)
                    if inside.intersects(tile) and geometry.intersection(tile).area >= MIN_INSIDE * tile.area:
                        region = Region(slide, col * tile_px, row * tile_px, tile_px)
                        samples.append(Sample(slide, names.index(name), slide.name, region))
    return LabelledSet(names, samples)
