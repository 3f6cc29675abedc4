"""A stored registration: an affine plus a smooth displacement field (SPEC D1).

The transform maps the *fixed* (reference) image's pixels to the *moving* image's pixels,
``T(x) = A·x + d(x)``, which is what both uses need without inversion: resampling the
moving slide into the reference frame (pull-back) and carrying an annotation drawn on the
reference onto the other section. The field is stored on a grid ``field_scale`` times the
fixed image's size and read bilinearly; the opposite direction (moving → fixed, for points
given on the moving slide) is found by fixed-point iteration, exact for a smooth field.

A ``RegionDetail`` adds a finer displacement inside one window of the fixed image (the lesion,
registered again at higher resolution): its own grid, zero outside the window and faded to
zero at its edges, so the whole transform stays continuous.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np

FORMAT_VERSION = 1


def sample_field(field: np.ndarray, grid_points: np.ndarray, border: int) -> np.ndarray:
    """Bilinear samples (n, 2) of an (h, w, 2) field at (n, 2) points in its grid px."""
    count = len(grid_points)
    width = 1024  # remap wants rows and columns under 32,767: points laid out in rows
    padded = np.zeros((-(-count // width) * width, 2), np.float32)
    padded[:count] = grid_points
    grid = padded.reshape(-1, width, 2)
    sampled = [
        cv2.remap(field[..., axis], grid[..., 0], grid[..., 1], cv2.INTER_LINEAR, borderMode=border)
        for axis in (0, 1)
    ]
    return np.stack(sampled, axis=-1).reshape(-1, 2)[:count].astype(np.float64)


@dataclass(frozen=True)
class RegionDetail:
    origin: np.ndarray  # (2,) the window's top-left corner, fixed px
    field: np.ndarray  # (h, w, 2) added displacement in moving px, zero at the window's edges
    scale: float  # grid px per fixed px

    def displacement(self, points: np.ndarray) -> np.ndarray:
        grid = (np.asarray(points, np.float64) - self.origin) * self.scale
        return sample_field(self.field, grid.astype(np.float32), cv2.BORDER_CONSTANT)


@dataclass(frozen=True)
class Transform:
    affine: np.ndarray  # (2, 3) fixed px → moving px
    field: np.ndarray | None = None  # (h, w, 2) displacement in moving px, on the fixed grid × field_scale
    field_scale: float = 1.0
    detail: RegionDetail | None = None

    def displacement(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        total = np.zeros_like(points)
        if self.field is not None:
            total += sample_field(
                self.field, (points * self.field_scale).astype(np.float32), cv2.BORDER_REPLICATE
            )
        if self.detail is not None:
            total += self.detail.displacement(points)
        return total

    def with_detail(self, detail: RegionDetail) -> Transform:
        return Transform(self.affine, self.field, self.field_scale, detail)

    def fixed_to_moving(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return points @ self.affine[:, :2].T + self.affine[:, 2] + self.displacement(points)

    def moving_to_fixed(self, points: np.ndarray, iterations: int = 30) -> np.ndarray:
        """Solve A·x + d(x) = p for x: x ← A⁻¹(p − d(x)), from the affine's inverse."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        inverse = cv2.invertAffineTransform(self.affine).astype(np.float64)
        estimate = points @ inverse[:, :2].T + inverse[:, 2]
        if self.field is None:
            return estimate
        for _ in range(iterations):
            shifted = points - self.displacement(estimate)
            estimate = shifted @ inverse[:, :2].T + inverse[:, 2]
        return estimate

    def after_flow(self, flow: np.ndarray) -> Transform:
        """``x → self(x + flow(x))`` for a flow on this transform's field grid (field_scale 1
        when there is no field yet): how each finer level is added."""
        assert self.detail is None, "a region detail is added last"
        height, width = flow.shape[:2]
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        displacement = (flow.reshape(-1, 2) @ self.affine[:, :2].T).reshape(flow.shape)
        if self.field is not None:
            displacement = displacement + np.dstack(
                [
                    cv2.remap(
                        self.field[..., axis],
                        xs + flow[..., 0],
                        ys + flow[..., 1],
                        cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE,
                    )
                    for axis in (0, 1)
                ]
            )
        return Transform(
            self.affine, displacement.astype(np.float32), self.field_scale if self.field is not None else 1.0
        )

    def dense_map(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Per fixed pixel of an image of ``shape`` (H, W), where to read the moving image."""
        height, width = shape
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        map_x = self.affine[0, 0] * xs + self.affine[0, 1] * ys + self.affine[0, 2]
        map_y = self.affine[1, 0] * xs + self.affine[1, 1] * ys + self.affine[1, 2]
        if self.field is not None:
            full = cv2.resize(self.field, (width, height), interpolation=cv2.INTER_LINEAR)
            map_x += full[..., 0]
            map_y += full[..., 1]
        if self.detail is not None:
            added = self.detail.displacement(np.column_stack([xs.ravel(), ys.ravel()])).reshape(
                height, width, 2
            )
            map_x += added[..., 0]
            map_y += added[..., 1]
        return map_x.astype(np.float32), map_y.astype(np.float32)

    def warp(self, moving: np.ndarray, shape: tuple[int, int], fill: int | float = 255) -> np.ndarray:
        """The moving image resampled into a fixed frame of ``shape`` (H, W)."""
        map_x, map_y = self.dense_map(shape)
        channels = 1 if moving.ndim == 2 else moving.shape[2]
        border = fill if channels == 1 else (fill,) * channels
        return cv2.remap(
            moving, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border
        )

    def scaled(self, fixed_factor: float, moving_factor: float) -> Transform:
        """The same transform between the images resized by these factors (e.g. a thumbnail's
        transform used at level 0: factors = level-0 px per thumbnail px, inverted)."""
        affine = self.affine.astype(np.float64).copy()
        affine[:, :2] *= moving_factor / fixed_factor
        affine[:, 2] *= moving_factor
        field = None if self.field is None else (self.field * moving_factor).astype(np.float32)
        detail = (
            None
            if self.detail is None
            else RegionDetail(
                self.detail.origin * fixed_factor,
                (self.detail.field * moving_factor).astype(np.float32),
                self.detail.scale / fixed_factor,
            )
        )
        return Transform(affine, field, self.field_scale / fixed_factor, detail)

    def compact(self, max_side: int = 256) -> Transform:
        """The same transform with its field on a grid of at most ``max_side`` px: the field is
        smooth (tissue bends over hundreds of µm), so a small grid stores it in kilobytes."""
        field, field_scale = (
            (None, self.field_scale)
            if self.field is None
            else compact_field(self.field, self.field_scale, max_side)
        )
        detail = self.detail
        if detail is not None:
            detail = RegionDetail(detail.origin, *compact_field(detail.field, detail.scale, max_side))
        return Transform(self.affine, field, field_scale, detail)

    def summary(self) -> dict[str, object]:
        """What a person reads: rotation (of the fixed → moving map, degrees in image axes, y
        down), scale, shift, mirroring, and how far the field bends."""
        linear = self.affine[:, :2]
        determinant = float(np.linalg.det(linear))
        scale_x = float(np.hypot(linear[0, 0], linear[1, 0]))
        rotation = float(np.degrees(np.arctan2(linear[1, 0], linear[0, 0])))
        scale_y = abs(determinant) / scale_x if scale_x else 0.0
        magnitude = np.hypot(self.field[..., 0], self.field[..., 1]) if self.field is not None else None
        detail = self.detail
        return {
            "affine": [[round(float(v), 6) for v in row] for row in self.affine],
            "rotation_degrees": round(rotation, 2),
            "scale": [round(scale_x, 4), round(scale_y, 4)],
            "flipped": determinant < 0,
            "shift_px": [round(float(self.affine[0, 2]), 2), round(float(self.affine[1, 2]), 2)],
            "field": None
            if magnitude is None
            else {
                "shape": list(self.field.shape[:2]) if self.field is not None else None,
                "px_per_fixed_px": self.field_scale,
                "median_px": round(float(np.median(magnitude)), 3),
                "max_px": round(float(magnitude.max()), 3),
            },
            "region": None
            if detail is None
            else {
                "origin_px": [round(float(v), 1) for v in detail.origin],
                "size_px": [
                    round(detail.field.shape[1] / detail.scale),
                    round(detail.field.shape[0] / detail.scale),
                ],
                "max_px": round(float(np.hypot(detail.field[..., 0], detail.field[..., 1]).max()), 3),
            },
        }

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        arrays: dict[str, np.ndarray] = {
            "version": np.asarray(FORMAT_VERSION),
            "affine": self.affine.astype(np.float64),
            "field_scale": np.asarray(self.field_scale),
        }
        if self.field is not None:
            arrays["field"] = self.field.astype(np.float32)
        if self.detail is not None:  # optional keys: transforms stored before regions still read
            arrays["detail_origin"] = self.detail.origin.astype(np.float64)
            arrays["detail_field"] = self.detail.field.astype(np.float32)
            arrays["detail_scale"] = np.asarray(self.detail.scale)
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Transform:
        with np.load(io.BytesIO(data)) as stored:
            if int(stored["version"]) != FORMAT_VERSION:
                raise ValueError(f"transform format {int(stored['version'])} is not {FORMAT_VERSION}")
            field = stored["field"] if "field" in stored.files else None
            detail = (
                RegionDetail(stored["detail_origin"], stored["detail_field"], float(stored["detail_scale"]))
                if "detail_field" in stored.files
                else None
            )
            return cls(stored["affine"], field, float(stored["field_scale"]), detail)


def compact_field(field: np.ndarray, scale: float, max_side: int) -> tuple[np.ndarray, float]:
    """``field`` on a grid of at most ``max_side`` px and its new grid px per fixed px."""
    if max(field.shape[:2]) <= max_side:
        return field, scale
    factor = max_side / max(field.shape[:2])
    size = (max(2, round(field.shape[1] * factor)), max(2, round(field.shape[0] * factor)))
    smaller = cv2.resize(field, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    return smaller, scale * size[0] / field.shape[1]  # grid px i sits where old px i / factor did
