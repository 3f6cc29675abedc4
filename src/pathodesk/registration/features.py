"""The low level's keypoint start (SPEC D2 low): SIFT keypoints (Lowe 2004, OpenCV's
``SIFT_create``) matched by Lowe's ratio test and cross-checked, an affine fitted with RANSAC.

SIFT is rotation-invariant but not mirror-invariant, so a section laid face-down on the
glass is found by also matching the mirrored moving image and keeping whichever gives more
inliers. A fit with too few inliers is not used as a start (``pipeline``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pathodesk.registration.channels import as_uint8


@dataclass(frozen=True)
class FeatureFit:
    affine: np.ndarray  # (2, 3) fixed px → moving px
    inliers: int
    matches: int


def keypoints(
    grey: np.ndarray, mask: np.ndarray | None, features: int
) -> tuple[np.ndarray, np.ndarray | None]:
    sift = cv2.SIFT_create(nfeatures=features)  # type: ignore[attr-defined]
    mask8 = None if mask is None else mask.astype(np.uint8) * 255
    found, descriptors = sift.detectAndCompute(as_uint8(grey, 0.0, 1.0), mask8)
    points = np.array([k.pt for k in found], dtype=np.float32).reshape(-1, 2)
    return points, descriptors


def ratio_matches(
    fixed: tuple[np.ndarray, np.ndarray | None], moving: tuple[np.ndarray, np.ndarray | None], ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """Matched point pairs (fixed, moving) passing Lowe's ratio test, cross-checked."""
    (fixed_points, fixed_desc), (moving_points, moving_desc) = fixed, moving
    if fixed_desc is None or moving_desc is None or len(fixed_desc) < 3 or len(moving_desc) < 3:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    forward = matcher.knnMatch(fixed_desc, moving_desc, k=2)
    backward = {m.queryIdx: m.trainIdx for m in matcher.match(moving_desc, fixed_desc)}
    pairs = [
        (pair[0].queryIdx, pair[0].trainIdx)
        for pair in forward
        if len(pair) == 2
        and pair[0].distance < ratio * pair[1].distance
        and backward.get(pair[0].trainIdx) == pair[0].queryIdx
    ]
    if not pairs:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    index = np.asarray(pairs)
    return fixed_points[index[:, 0]], moving_points[index[:, 1]]


def fit_affine(
    fixed_points: np.ndarray, moving_points: np.ndarray, threshold_px: float, similarity: bool = False
) -> FeatureFit | None:
    """RANSAC affine fixed → moving; with ``similarity`` only turn, scale and shift (4 degrees
    of freedom: steadier when few matches agree)."""
    if len(fixed_points) < 4:
        return None
    estimate = cv2.estimateAffinePartial2D if similarity else cv2.estimateAffine2D
    affine, inlier_flags = estimate(
        fixed_points,
        moving_points,
        method=cv2.RANSAC,
        ransacReprojThreshold=threshold_px,
        maxIters=5000,
        confidence=0.999,
    )
    if affine is None:
        return None
    return FeatureFit(affine.astype(np.float64), int(inlier_flags.sum()), len(fixed_points))


def mirror_x(width: int) -> np.ndarray:
    """Affine of a left-right mirror of an image ``width`` px wide (its own inverse)."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Affine of ``x → outer(inner(x))``."""
    outer3 = np.vstack([outer, [0, 0, 1]])
    inner3 = np.vstack([inner, [0, 0, 1]])
    return (outer3 @ inner3)[:2]


def feature_affine(
    fixed: np.ndarray,
    moving: np.ndarray,
    fixed_mask: np.ndarray | None,
    moving_mask: np.ndarray | None,
    features: int = 4000,
    ratio: float = 0.85,
    threshold_px: float = 5.0,
    allow_mirror: bool = True,
) -> FeatureFit | None:
    """Best affine fixed → moving over the moving image as it is and mirrored."""
    fixed_keys = keypoints(fixed, fixed_mask, features)
    candidates: list[FeatureFit] = []
    width = moving.shape[1]
    for mirrored in (False, True) if allow_mirror else (False,):
        image = moving[:, ::-1] if mirrored else moving
        mask = None if moving_mask is None else (moving_mask[:, ::-1] if mirrored else moving_mask)
        fit = fit_affine(
            *ratio_matches(
                fixed_keys,
                keypoints(
                    np.ascontiguousarray(image),
                    None if mask is None else np.ascontiguousarray(mask),
                    features,
                ),
                ratio,
            ),
            threshold_px,
        )
        if fit is not None:
            affine = compose(mirror_x(width), fit.affine) if mirrored else fit.affine
            candidates.append(FeatureFit(affine, fit.inliers, fit.matches))
    return max(candidates, key=lambda fit: fit.inliers, default=None)


def guided_affine(
    fixed: np.ndarray,
    moving: np.ndarray,
    fixed_mask: np.ndarray | None,
    moving_mask: np.ndarray | None,
    radius_px: float,
    features: int = 4000,
    ratio: float = 0.9,
    threshold_px: float = 3.0,
) -> FeatureFit | None:
    """Affine correction fixed → moving for two images already roughly aligned (the middle
    level's moving image is resampled through the low result): a keypoint may only match one
    within ``radius_px`` of its own place, so far fewer look-alikes compete and far more true
    matches pass the ratio test than across the whole image."""
    fixed_points, fixed_desc = keypoints(fixed, fixed_mask, features)
    moving_points, moving_desc = keypoints(moving, moving_mask, features)
    if fixed_desc is None or moving_desc is None or len(fixed_desc) < 3 or len(moving_desc) < 3:
        return None
    near = (np.linalg.norm(fixed_points[:, None, :] - moving_points[None, :, :], axis=2) < radius_px).astype(
        np.uint8
    )
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    forward = matcher.knnMatch(fixed_desc, moving_desc, k=2, mask=near)
    backward = {m.queryIdx: m.trainIdx for m in matcher.match(moving_desc, fixed_desc, mask=near.T.copy())}
    pairs = [
        (best[0].queryIdx, best[0].trainIdx)
        for best in forward
        if best
        and (len(best) == 1 or best[0].distance < ratio * best[1].distance)
        and backward.get(best[0].trainIdx) == best[0].queryIdx
    ]
    if len(pairs) < 4:
        return None
    index = np.asarray(pairs)
    return fit_affine(fixed_points[index[:, 0]], moving_points[index[:, 1]], threshold_px, similarity=True)
