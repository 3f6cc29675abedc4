"""Positive tiles → tumour regions (SPEC A5, A6).

Tile centres, in tile units, are clustered by DBSCAN (scikit-learn); each cluster's mean,
standard deviation and variance of probability are computed and clusters that fail the
thresholds are dropped (A5); the Graham-scan hull of a kept cluster's tile corners is its
polygon (A6), so the outline covers the tiles rather than cutting through them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pathodesk.analysis.hull import Point, graham_scan


@dataclass(frozen=True)
class TileScore:
    x: int  # level-0 pixels, top-left
    y: int
    size: int
    probability: float  # of the class being outlined


@dataclass(frozen=True)
class ClusterParams:
    """Per disease type (issue 7); distances in tiles, so they hold at any tile size."""

    eps_tiles: float = 1.5  # neighbours: the 8 around a tile
    min_samples: int = 3
    min_tiles: int = 4
    min_mean_probability: float = 0.6
    max_std_probability: float = 0.3


@dataclass(frozen=True)
class Region:
    tiles: tuple[TileScore, ...]
    mean: float
    std: float
    variance: float
    polygon: tuple[Point, ...]  # level-0 pixels, counter-clockwise (y up) = clockwise on screen


def tumour_regions(tiles: list[TileScore], params: ClusterParams = ClusterParams()) -> list[Region]:
    """Regions of the positive ``tiles``, largest first."""
    if not tiles:
        return []
    size = tiles[0].size
    centres = np.array([((t.x + t.size / 2) / size, (t.y + t.size / 2) / size) for t in tiles])
    from sklearn.cluster import DBSCAN  # here, not above: parameters are read without scikit-learn

    labels = DBSCAN(eps=params.eps_tiles, min_samples=params.min_samples).fit_predict(centres)
    regions = []
    for label in sorted(set(labels.tolist()) - {-1}):
        members = tuple(t for t, own in zip(tiles, labels, strict=True) if own == label)
        probabilities = np.array([t.probability for t in members])
        mean, std = float(probabilities.mean()), float(probabilities.std())
        if (
            len(members) < params.min_tiles
            or mean < params.min_mean_probability
            or std > params.max_std_probability
        ):
            continue  # A5: too small, too unsure or too mixed
        corners = [(t.x + dx, t.y + dy) for t in members for dx in (0, t.size) for dy in (0, t.size)]
        regions.append(Region(members, mean, std, std * std, tuple(graham_scan(corners))))
    return sorted(regions, key=lambda r: -len(r.tiles))
