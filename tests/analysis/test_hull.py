"""Graham scan (SPEC A6) against scipy.spatial.ConvexHull, on random and degenerate sets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import ConvexHull

from pathodesk.analysis.hull import cross, graham_scan


def scipy_hull(points: np.ndarray) -> set[tuple[float, float]]:
    hull = ConvexHull(points)
    return {(float(x), float(y)) for x, y in points[hull.vertices]}


def is_convex_counter_clockwise(polygon: list[tuple[float, float]]) -> bool:
    n = len(polygon)
    return all(cross(polygon[i], polygon[(i + 1) % n], polygon[(i + 2) % n]) > 0 for i in range(n))


@pytest.mark.parametrize("seed", range(20))
def test_same_vertices_as_scipy_on_random_sets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(rng.integers(3, 400), 2)) * rng.uniform(1, 1000)
    hull = graham_scan(map(tuple, points))
    assert set(hull) == scipy_hull(points)
    assert is_convex_counter_clockwise(hull)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)), min_size=3, max_size=60))
def test_integer_grids_with_duplicates_and_collinear_points(raw: list[tuple[int, int]]) -> None:
    """Tile centres lie on a grid: many duplicates and collinear runs."""
    points = np.array(raw, dtype=float)
    hull = graham_scan(raw)
    distinct = np.unique(points, axis=0)
    if len(distinct) >= 3 and np.linalg.matrix_rank(distinct - distinct[0]) == 2:
        assert set(hull) == scipy_hull(distinct)
        assert is_convex_counter_clockwise(hull)
    else:  # a point or a segment: its ends
        assert len(hull) == min(len(distinct), 2)
        if len(distinct) >= 2:
            span = max(np.linalg.norm(distinct - distinct[i], axis=1).max() for i in range(len(distinct)))
            assert np.linalg.norm(np.subtract(hull[0], hull[1])) == pytest.approx(span)


def test_degenerate_inputs() -> None:
    assert graham_scan([]) == []
    assert graham_scan([(1, 2)]) == [(1.0, 2.0)]
    assert graham_scan([(1, 2), (1, 2), (1, 2)]) == [(1.0, 2.0)]
    assert graham_scan([(0, 0), (3, 3)]) == [(0.0, 0.0), (3.0, 3.0)]
    assert sorted(graham_scan([(0, 0), (1, 1), (2, 2), (3, 3), (1, 1)])) == [(0.0, 0.0), (3.0, 3.0)]
    square_with_edge_points = [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (0, 2), (0, 1), (1, 1)]
    assert graham_scan(square_with_edge_points) == [(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)]
