"""The stored transform (SPEC D1): both directions agree, it survives storage, it rescales
between a thumbnail and level 0, and ImageJ point files are read and written faithfully."""

from __future__ import annotations

import numpy as np
import pytest

from pathodesk.errors import ValidationFailedError
from pathodesk.registration import Transform, relative_tre
from pathodesk.registration.landmarks import format_points, parse_points
from pathodesk.registration.transform import RegionDetail


def bent() -> Transform:
    affine = np.array([[0.98, -0.12, 30.0], [0.11, 1.01, -12.0]])
    ys, xs = np.mgrid[0:100, 0:150].astype(np.float32)
    field = np.dstack([3 * np.sin(xs / 20), 2 * np.cos(ys / 15)]).astype(np.float32)
    return Transform(affine, field, 0.5)  # field grid at half the fixed image's size


def test_moving_to_fixed_undoes_fixed_to_moving() -> None:
    transform = bent()
    points = np.random.default_rng(1).uniform(10, 280, (200, 2))
    back = transform.moving_to_fixed(transform.fixed_to_moving(points))
    assert np.abs(back - points).max() < 0.01


def test_a_transform_survives_storage_exactly() -> None:
    transform = bent()
    again = Transform.from_bytes(transform.to_bytes())
    points = np.array([[5.0, 7.0], [120.0, 150.0]])
    assert np.allclose(again.fixed_to_moving(points), transform.fixed_to_moving(points))
    assert again.summary() == transform.summary()


def test_a_thumbnail_transform_carries_level_zero_points() -> None:
    transform = bent()
    at_level_zero = transform.scaled(8.0, 4.0)  # fixed thumbnail 1/8 of level 0, moving 1/4
    points = np.array([[40.0, 60.0], [200.0, 90.0]])
    assert np.allclose(
        at_level_zero.fixed_to_moving(points * 8.0), transform.fixed_to_moving(points) * 4.0, atol=1e-4
    )


def test_the_summary_says_turn_scale_and_mirror() -> None:
    mirror = Transform(np.array([[-1.0, 0.0, 99.0], [0.0, 1.0, 0.0]]))
    assert mirror.summary()["flipped"] is True
    quarter = Transform(np.array([[0.0, -2.0, 0.0], [2.0, 0.0, 0.0]]))
    summary = quarter.summary()
    assert summary["rotation_degrees"] == 90.0 and summary["scale"] == [2.0, 2.0] and summary["field"] is None


def test_imagej_points_round_trip_and_bad_files_are_refused() -> None:
    points = np.array([[212.4, 158.4], [259.2, 155.2]])
    assert np.allclose(parse_points(format_points(points)), points)
    assert np.allclose(parse_points("\ufeff ,X,Y\n1,1.5,2\n\n2,3,4\n"), [[1.5, 2.0], [3.0, 4.0]])
    with pytest.raises(ValidationFailedError, match="header"):
        parse_points("x;y\n1;2\n")
    with pytest.raises(ValidationFailedError, match="Line 3"):
        parse_points(" ,X,Y\n1,1,2\n2,oops,4\n")


def test_relative_tre_uses_the_target_diagonal_and_the_shorter_list() -> None:
    warped = np.array([[3.0, 4.0], [0.0, 0.0], [9.0, 9.0]])
    target = np.zeros((2, 2))
    assert np.allclose(relative_tre(warped, target, (30, 40)), [5 / 50, 0.0])


def test_a_compacted_field_stores_small_and_moves_points_the_same() -> None:
    ys, xs = np.mgrid[0:1000, 0:1400].astype(np.float32)
    field = np.dstack([5 * np.sin(xs / 300), 4 * np.cos(ys / 250)]).astype(np.float32)
    transform = Transform(np.array([[1.0, 0.02, 3.0], [-0.02, 1.0, -4.0]]), field, 1.0)
    small = transform.compact(256)
    assert small.field is not None and max(small.field.shape[:2]) == 256
    assert len(small.to_bytes()) < 600_000
    points = np.random.default_rng(2).uniform(50, 950, (300, 2))
    assert np.abs(small.fixed_to_moving(points) - transform.fixed_to_moving(points)).max() < 0.1


def with_lesion_detail() -> Transform:
    """``bent`` plus a finer displacement inside a 200 × 100 px window at (60, 40), on a grid of
    half its pixel size, zero at its edges."""
    ys, xs = np.mgrid[0:50, 0:100].astype(np.float32)
    edges = np.sin(np.pi * xs / 99) * np.sin(np.pi * ys / 49)
    field = np.dstack([2 * edges, -1.5 * edges]).astype(np.float32)
    return bent().with_detail(RegionDetail(np.array([60.0, 40.0]), field, 0.5))


def test_a_region_detail_moves_points_inside_its_window_only_and_is_kept() -> None:
    transform = with_lesion_detail()
    centre, outside = np.array([[160.0, 90.0]]), np.array([[20.0, 20.0], [290.0, 170.0]])
    assert np.allclose(
        transform.fixed_to_moving(centre) - bent().fixed_to_moving(centre), [[2.0, -1.5]], atol=0.01
    )
    assert np.allclose(transform.fixed_to_moving(outside), bent().fixed_to_moving(outside))
    points = np.random.default_rng(4).uniform(10, 280, (200, 2))
    assert np.abs(transform.moving_to_fixed(transform.fixed_to_moving(points)) - points).max() < 0.01
    again = Transform.from_bytes(transform.to_bytes())
    assert np.allclose(again.fixed_to_moving(points), transform.fixed_to_moving(points))
    region = again.summary()["region"]
    assert (
        isinstance(region, dict) and region["origin_px"] == [60.0, 40.0] and region["size_px"] == [200, 100]
    )
    assert 2.4 < region["max_px"] <= 2.5
    at_level_zero = transform.scaled(8.0, 4.0)
    assert np.allclose(
        at_level_zero.fixed_to_moving(points * 8.0), transform.fixed_to_moving(points) * 4.0, atol=1e-3
    )
    warped = transform.warp(np.tile(np.arange(400, dtype=np.float32), (300, 1)), (200, 300), fill=0)
    assert abs(float(warped[90, 160]) - float(transform.fixed_to_moving(centre)[0, 0])) < 0.05


def test_sections_are_read_at_one_pixel_size() -> None:
    from pathodesk.registration.scale import common_sides

    # by mpp: a 40x scan (0.25 µm) twice as many px as a 20x one (0.5 µm) of the same tissue
    assert common_sides([80_000, 40_000], [0.25, 0.5], 2048) == [2048, 2048]
    # without mpp: the same downsample, the larger at the size asked
    assert common_sides([1164, 931], [None, None], 1024) == [1024, 819]
