"""Cluster filtering (SPEC A5) and polygons (A6) on synthetic tile scores."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Point, Polygon

from pathodesk.analysis.clusters import ClusterParams, TileScore, tumour_regions

SIZE = 512


def blob(col: int, row: int, radius: int, probability: float, rng: np.random.Generator) -> list[TileScore]:
    return [
        TileScore(
            (col + dc) * SIZE,
            (row + dr) * SIZE,
            SIZE,
            float(np.clip(probability + rng.normal(0, 0.03), 0, 1)),
        )
        for dc in range(-radius, radius + 1)
        for dr in range(-radius, radius + 1)
        if dc * dc + dr * dr <= radius * radius
    ]


def test_two_regions_found_noise_and_weak_clusters_dropped() -> None:
    rng = np.random.default_rng(0)
    strong_a, strong_b = blob(10, 10, 3, 0.9, rng), blob(40, 12, 2, 0.85, rng)
    weak = blob(20, 40, 2, 0.45, rng)  # confident enough to be positive tiles, not as a region
    scattered = [TileScore(c * SIZE, r * SIZE, SIZE, 0.95) for c, r in ((60, 60), (0, 50), (70, 5))]
    regions = tumour_regions(strong_a + strong_b + weak + scattered)
    assert [len(r.tiles) for r in regions] == [len(strong_a), len(strong_b)]
    for region, members in zip(regions, (strong_a, strong_b), strict=True):
        polygon = Polygon(region.polygon)
        assert polygon.is_valid and region.variance == region.std**2
        assert all(polygon.covers(Point(t.x + SIZE / 2, t.y + SIZE / 2)) for t in members)
        tiles_area = len(members) * SIZE * SIZE
        assert tiles_area <= polygon.area <= 1.6 * tiles_area  # the hull hugs its tiles


def test_mixed_probabilities_fail_the_std_threshold() -> None:
    rng = np.random.default_rng(1)
    mixed = [
        TileScore(t.x, t.y, SIZE, p)
        for t, p in zip(blob(10, 10, 3, 0.5, rng), rng.choice([0.2, 0.99], size=29), strict=False)
    ]
    assert np.std([t.probability for t in mixed]) > 0.3
    assert tumour_regions(mixed) == []
    assert len(tumour_regions(mixed, ClusterParams(max_std_probability=1.0, min_mean_probability=0.0))) == 1


def test_nothing_in_nothing_out() -> None:
    assert tumour_regions([]) == []
    assert tumour_regions([TileScore(0, 0, SIZE, 0.99)]) == []  # one tile is noise to DBSCAN
