"""Tile probabilities -> tumour outlines with a class and a probability (SPEC A4–A6).

For every class that is not background tissue, the tiles the model gives that class are
clustered (DBSCAN), clusters failing A5's thresholds dropped, and each kept cluster outlined:
by default the Graham-scan hull of its tiles (A6); ``outline="tiles"`` gives the tighter
union of the tile squares with a morphological closing of half a tile, which follows
concave tumour fronts (issue 7 asks which matches the truth better: see tests/analysis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from shapely.geometry import Polygon, box
from shapely.ops import unary_union

from pathodesk.analysis.clusters import TileScore, tumour_regions
from pathodesk.analysis.inference import TileResults
from pathodesk.analysis.params import AnalysisParams
from pathodesk.annotations.geometry import Outline, polygonal_part

OutlineKind = Literal["hull", "tiles"]


@dataclass(frozen=True)
class FoundRegion:
    label: str
    probability: float  # mean probability of its class over the region's tiles (A5)
    std: float  # of the tumour probability over its tiles (A5's spread test)
    tile_count: int
    outline: Outline  # level-0 pixels


def _tile_union(scores: tuple[TileScore, ...]) -> Outline:
    """The tiles' squares, closed by most of a tile (bridges one-tile gaps), small holes filled."""
    size = scores[0].size
    squares = unary_union([box(t.x, t.y, t.x + t.size, t.y + t.size) for t in scores])
    closed = squares.buffer(0.75 * size, join_style="mitre").buffer(-0.75 * size, join_style="mitre")
    parts = closed.geoms if hasattr(closed, "geoms") else [closed]
    filled = [
        Polygon(part.exterior, [h for h in part.interiors if Polygon(h).area > 4 * size * size])
        for part in parts
        if isinstance(part, Polygon)
    ]
    return polygonal_part(unary_union(filled).simplify(size / 8)) or polygonal_part(squares)


def find_regions(
    results: TileResults, params: AnalysisParams, outline: OutlineKind = "hull"
) -> list[FoundRegion]:
    """Tumour tiles (any non-background class wins the tile) are clustered together; each
    region takes the tumour class with the highest mean probability over its tiles, so one
    tumour is one region even where the model hesitates between two carcinoma types."""
    tumour_columns = [i for i, name in enumerate(results.labels) if name not in params.background_labels]
    if not len(results.tiles) or not tumour_columns:
        return []
    probabilities = results.probabilities
    winners = probabilities.argmax(axis=1)
    tumour_probability = probabilities[:, tumour_columns].sum(axis=1)
    rows = [row for row in range(len(results.tiles)) if winners[row] in tumour_columns]
    by_position = {(results.tiles[row].x, results.tiles[row].y): row for row in rows}
    scores = [
        TileScore(
            results.tiles[row].x,
            results.tiles[row].y,
            results.tiles[row].size,
            float(tumour_probability[row]),
        )
        for row in rows
    ]
    found = []
    for region in tumour_regions(scores, params.clusters):
        members = [by_position[(t.x, t.y)] for t in region.tiles]
        class_means = probabilities[np.ix_(members, tumour_columns)].mean(axis=0)
        best = int(class_means.argmax())
        shape = _tile_union(region.tiles) if outline == "tiles" else Polygon(region.polygon)
        found.append(
            FoundRegion(
                results.labels[tumour_columns[best]],
                float(class_means[best]),
                region.std,
                len(members),
                shape,
            )
        )
    return sorted(found, key=lambda r: -r.outline.area)


def slide_label(regions: list[FoundRegion], params: AnalysisParams, labels: list[str]) -> str:
    """The slide's call: the class with the largest outlined area, else background tissue."""
    if regions:
        return regions[0].label
    return params.background_labels[0] if params.background_labels else labels[0]
