"""Three-level registration of one section onto another (SPEC D2).

1. Low (coarse contour alignment, 128 → 512 px): glass removed, optical-density grey.
   Starts: a SIFT + RANSAC affine (Lowe 2004) when enough keypoints agree, and the eight
   ways a section can lie on the glass (quarter turns, face up or down). Each start is
   refined by coarse-to-fine ECC (Evangelidis & Psarakis 2008), rigid, on the blurred
   outline images; the result with the most mutual information of blurred density wins
   (stains may invert contrast, so not correlation). SIFT alone is not enough across
   stains: on the six CIMA pairs only 5–8 of its matches agreed.
2. Middle (512 px): a feature-based correction — SIFT keypoints of the fixed section matched
   to those of the moving one resampled through the low result, each only within 3 % of the
   diagonal of its place, RANSAC similarity — taken only if it makes the sections more alike.
3. High (1024 px): intensity-based — ECC affine on the blurred density (shrinkage, shear),
   then three passes of matched patches (48, 32, 24 px) on locally normalised density, each
   turned into a smooth displacement field and added to the last; with a region of interest
   (the lesion) one more pass inside it at higher resolution (``refine_region``).

The result maps the fixed image's pixels to the moving image's (``Transform``) with its own
error estimate: patches matched once more after the whole transform, and the median of how
far they still are from their place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from pathodesk.errors import PathoDeskError
from pathodesk.i18n import N_
from pathodesk.registration.blocks import PatchMatches, match_patches, smooth_field
from pathodesk.registration.channels import local_normalised, mutual_information, registration_grey
from pathodesk.registration.features import compose, feature_affine, guided_affine, mirror_x
from pathodesk.registration.transform import Transform


class RegistrationFailed(PathoDeskError):
    """The sections could not be aligned; ``detail`` says why. Nothing is stored."""

    status = 422
    title = N_("Registration failed")


@dataclass(frozen=True)
class RegistrationParams:
    low_sides: tuple[int, ...] = (128, 256, 512)  # the low level's pyramid (longest side, px)
    low_blur_px: float = 2.0  # outline blur at the coarsest low level
    choice_blur_px: float = 4.0  # density blur when choosing among the starts
    # mutual information of the chosen low-level alignment: the six CIMA pairs, turned, mirrored
    # or cut short, 0.062–0.204; tissue-like blobs 0.016; kidney against a lung lesion 0.039–0.041
    # (but 0.072 against the other lung lesion: alike tissue is not always told apart)
    min_similarity: float = 0.05
    min_sift_inliers: int = 12
    start_offsets: tuple[float, ...] = (-0.15, 0.0, 0.15)  # shifts tried with each orientation
    starts_kept: int = 4  # starts taken past the coarsest level
    max_scale_change: float = 1.6  # serial sections of one block: same size within this factor
    middle_sides: tuple[int, ...] = (512,)
    middle_blur_px: float = 2.0  # density blur when judging a keypoint correction
    middle_radius: float = 0.03  # how far a keypoint may match from its place (of the diagonal)
    min_middle_inliers: int = 12
    affine_sides: tuple[int, ...] = (512, 1024)  # the high level's intensity affine
    affine_blur_px: float = 2.0
    high_side: int = 1024
    high_sigma_px: float = 16.0  # local normalisation window of the patch images
    high_passes: tuple[tuple[int, int, float], ...] = ((48, 10, 0.06), (32, 6, 0.03), (24, 4, 0.02))
    # (patch px, search ± px, field smoothing as a fraction of the image diagonal)
    min_patches: int = 12
    dense: bool = True


@dataclass
class Registration:
    transform: Transform  # in the input images' pixels
    error_px: float  # median residual of matched patches after the transform, fixed px
    patches: int  # how many patches that estimate rests on
    stages: dict[str, Transform]
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "transform": self.transform.summary(),
            "error_px": round(self.error_px, 3),
            "error_patches": self.patches,
            "stage_seconds": {name: round(value, 3) for name, value in self.seconds.items()},
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Prepared:
    """One section at one level: density grey, tissue mask, and its size against the input."""

    grey: np.ndarray
    mask: np.ndarray
    factor: float

    @classmethod
    def of(cls, rgb: np.ndarray, factor: float) -> Prepared:
        small = shrunk(rgb, factor)
        grey, mask = registration_grey(small)
        if mask.mean() < 0.01:
            raise RegistrationFailed("No tissue was found on one of the sections.")
        return cls(grey, mask, factor)

    def outline(self, sigma: float) -> np.ndarray:
        """Half tissue mask, half density, blurred: the section's outline and holes (the same
        in every stain) weigh as much as its inner contrast (which a stain may invert)."""
        return cv2.GaussianBlur((0.5 * self.mask + 0.5 * self.grey).astype(np.float32), (0, 0), sigma)

    def blurred(self, sigma: float) -> np.ndarray:
        return cv2.GaussianBlur(self.grey, (0, 0), sigma)


def shrunk(rgb: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1.0:
        return rgb
    size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def level_pair(fixed_rgb: np.ndarray, moving_rgb: np.ndarray, side: int) -> tuple[Prepared, Prepared]:
    """Both sections shrunk by the same factor, the larger to ``side`` px: the inputs share a
    pixel size, and the levels must too, or a rigid start would carry a false scale (a
    section cut short would otherwise be enlarged to the full size of the other)."""
    factor = min(1.0, side / max(*fixed_rgb.shape[:2], *moving_rgb.shape[:2]))
    return Prepared.of(fixed_rgb, factor), Prepared.of(moving_rgb, factor)


def check_affine(affine: np.ndarray, params: RegistrationParams) -> None:
    singular = np.linalg.svd(affine[:, :2], compute_uv=False)
    if singular.max() > params.max_scale_change or singular.min() < 1 / params.max_scale_change:
        raise RegistrationFailed(
            "The alignment would stretch one section %(factor).2f times, more than serial sections differ;"
            " they may not be from the same tissue.",
            factor=float(max(singular.max(), 1 / singular.min())),
        )


def ecc_affine(
    fixed: np.ndarray, moving: np.ndarray, start: np.ndarray, motion: int
) -> tuple[float, np.ndarray] | None:
    """Refine an affine (fixed → moving, which is ECC's convention too) by maximising the
    enhanced correlation coefficient; None when it does not converge."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 80, 1e-5)
    try:
        coefficient, warp = cv2.findTransformECC(  # type: ignore[call-overload]
            fixed, moving, start.astype(np.float32), motion, criteria, None, 1
        )
    except cv2.error:
        return None
    return float(coefficient), warp.astype(np.float64)


def orientation_starts(
    fixed_shape: tuple[int, int], moving_shape: tuple[int, int], offsets: tuple[float, ...]
) -> list[np.ndarray]:
    """The eight ways a section can lie on the glass (quarter turns, face up or down), each
    centre on centre and shifted by ``offsets`` of the fixed image's size (a section cut
    short or placed off-centre): fixed px → moving px."""
    (fixed_h, fixed_w), (moving_h, moving_w) = fixed_shape, moving_shape
    starts = []
    for mirrored in (False, True):
        base = mirror_x(moving_w) if mirrored else np.array([[1.0, 0, 0], [0, 1.0, 0]])
        for degrees in (0, 90, 180, 270):
            turn = compose(
                cv2.getRotationMatrix2D((moving_w / 2, moving_h / 2), degrees, 1.0).astype(np.float64), base
            )
            for offset_x in offsets:
                for offset_y in offsets:
                    centre_on_centre = np.array(
                        [
                            [1.0, 0, moving_w / 2 - fixed_w / 2 + offset_x * fixed_w],
                            [0, 1.0, moving_h / 2 - fixed_h / 2 + offset_y * fixed_h],
                        ]
                    )
                    starts.append(
                        compose(cv2.invertAffineTransform(turn).astype(np.float64), centre_on_centre)
                    )
    return starts


def rigid_refined(
    levels: list[tuple[Prepared, Prepared]], start: Transform, blur_px: float
) -> Transform | None:
    """Coarse-to-fine rigid ECC on the outline images; the transform in input px. The moving
    image is first resampled through the current estimate and ECC starts from identity, since
    OpenCV's rigid ECC breaks down (NaN) at a half turn."""
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    current = start
    for fixed, moving in levels:
        sigma = blur_px * (fixed.grey.shape[0] / levels[0][0].grey.shape[0]) ** 0.5
        at = current.scaled(fixed.factor, moving.factor)
        warped = at.warp(moving.outline(sigma), fixed.grey.shape, fill=0)
        refined = ecc_affine(fixed.outline(sigma), warped, identity, cv2.MOTION_EUCLIDEAN)
        if refined is None:
            return None
        current = Transform(compose(at.affine, refined[1])).scaled(1 / fixed.factor, 1 / moving.factor)
    return current


def blurred_similarity(fixed: Prepared, moving: Prepared, transform: Transform, sigma: float) -> float:
    """Mutual information of the blurred density images where the two frames overlap: what
    tells the right orientation from a mirrored one whose outline fits as well."""
    at = transform.scaled(fixed.factor, moving.factor)
    shape = fixed.grey.shape
    inside = at.warp(np.ones_like(moving.grey), shape, fill=0) > 0.5
    if inside.mean() < 0.2:
        return -1.0
    return mutual_information(fixed.blurred(sigma), at.warp(moving.blurred(sigma), shape, fill=0), inside)


def low_level(
    fixed_rgb: np.ndarray, moving_rgb: np.ndarray, params: RegistrationParams, notes: list[str]
) -> Transform:
    levels = [level_pair(fixed_rgb, moving_rgb, side) for side in params.low_sides]
    coarsest, finest = levels[0], levels[-1]
    starts = {
        f"orientation {index + 1}": Transform(affine).scaled(1 / coarsest[0].factor, 1 / coarsest[1].factor)
        for index, affine in enumerate(
            orientation_starts(coarsest[0].grey.shape, coarsest[1].grey.shape, params.start_offsets)
        )
    }
    sift = feature_affine(finest[0].grey, finest[1].grey, finest[0].mask, finest[1].mask)
    if sift is not None and sift.inliers >= params.min_sift_inliers:
        starts["SIFT"] = Transform(sift.affine).scaled(1 / finest[0].factor, 1 / finest[1].factor)
    # every start through the coarsest level; the most similar few through the rest
    first: dict[str, tuple[Transform, float]] = {}
    for name, start in starts.items():
        refined = rigid_refined(levels[:1], start, params.low_blur_px)
        if refined is not None:
            first[name] = (refined, blurred_similarity(*coarsest, refined, params.choice_blur_px / 2))
    kept = sorted(first, key=lambda name: first[name][1], reverse=True)[: params.starts_kept]
    results: dict[str, tuple[Transform, float]] = {}
    for name in kept:
        refined = rigid_refined(levels[1:], first[name][0], params.low_blur_px)
        if refined is not None:
            results[name] = (refined, blurred_similarity(*finest, refined, params.choice_blur_px))
    if not results:
        raise RegistrationFailed("The sections could not be aligned at low power from any orientation.")
    best = max(results, key=lambda name: results[name][1])
    transform, similarity = results[best]
    if similarity < params.min_similarity:
        raise RegistrationFailed(
            "The sections do not look alike at low power (similarity %(score).2f);"
            " they may not be from the same tissue.",
            score=similarity,
        )
    notes.append(f"low: from {best}, similarity {similarity:.3f}; SIFT inliers {sift.inliers if sift else 0}")
    return transform


def middle_level(
    fixed_rgb: np.ndarray,
    moving_rgb: np.ndarray,
    low: Transform,
    params: RegistrationParams,
    notes: list[str],
) -> Transform:
    """Feature-based affine correction of the low result at higher resolution: SIFT keypoints
    of the fixed section matched to those of the moving one resampled through the current
    estimate, each only to keypoints near its own place, then RANSAC."""
    current = low
    for side in params.middle_sides:
        fixed, moving = level_pair(fixed_rgb, moving_rgb, side)
        at = current.scaled(fixed.factor, moving.factor)
        shape = fixed.grey.shape
        fit = guided_affine(
            local_normalised(fixed.grey, params.high_sigma_px / 2),
            at.warp(local_normalised(moving.grey, params.high_sigma_px / 2), shape, fill=0),
            fixed.mask,
            at.warp(moving.mask.astype(np.float32), shape, fill=0) > 0.5,
            radius_px=params.middle_radius * float(np.hypot(*shape)),
        )
        if fit is None or fit.inliers < params.min_middle_inliers:
            notes.append(f"middle: {fit.inliers if fit else 0} keypoints agree at {side} px; kept")
            continue
        candidate = Transform(compose(at.affine, fit.affine)).scaled(1 / fixed.factor, 1 / moving.factor)
        check_affine(candidate.affine, params)
        before = blurred_similarity(fixed, moving, current, params.middle_blur_px)
        after = blurred_similarity(fixed, moving, candidate, params.middle_blur_px)
        accepted = after > before
        notes.append(
            f"middle: {fit.inliers} of {fit.matches} keypoint matches agree at {side} px;"
            f" similarity {before:.3f} → {after:.3f}, {'taken' if accepted else 'not taken'}"
        )
        if accepted:
            current = candidate
    return current


def intensity_affine(
    fixed_rgb: np.ndarray,
    moving_rgb: np.ndarray,
    start: Transform,
    params: RegistrationParams,
    notes: list[str],
) -> Transform:
    """ECC affine on the blurred density images, coarse to fine: the high level's first
    step, taking up what shrinkage and shear the keypoints left."""
    current = start
    for side in params.affine_sides:
        fixed, moving = level_pair(fixed_rgb, moving_rgb, side)
        refined = ecc_affine(
            fixed.blurred(params.affine_blur_px),
            moving.blurred(params.affine_blur_px),
            current.scaled(fixed.factor, moving.factor).affine,
            cv2.MOTION_AFFINE,
        )
        if refined is None:
            notes.append(f"high: intensity affine did not converge at {side} px; kept")
            continue
        candidate = Transform(refined[1]).scaled(1 / fixed.factor, 1 / moving.factor)
        check_affine(candidate.affine, params)
        current = candidate
    return current


def patches_after(
    fixed: Prepared, moving: Prepared, at: Transform, block: int, search: int, stride: int, sigma: float
) -> PatchMatches:
    """Patches of the fixed section found in the moving one read through ``at`` (level px)."""
    warped = at.warp(local_normalised(moving.grey, sigma), fixed.grey.shape, fill=0)
    return match_patches(local_normalised(fixed.grey, sigma), warped, block, search, stride)


def high_level(
    fixed: Prepared, moving: Prepared, middle: Transform, params: RegistrationParams, notes: list[str]
) -> Transform:
    current = middle.scaled(fixed.factor, moving.factor)
    shape = fixed.grey.shape
    diagonal = float(np.hypot(*shape))
    for block, search, smoothing in params.high_passes:
        matches = patches_after(
            fixed, moving, current, block, search, max(4, block // 3), params.high_sigma_px
        )
        if len(matches) < params.min_patches:
            notes.append(f"high: only {len(matches)} patches of {block} px matched; pass skipped")
            continue
        current = current.after_flow(smooth_field(matches, shape, smoothing * diagonal))
        notes.append(f"high: {len(matches)} patches of {block} px")
    return current.scaled(1 / fixed.factor, 1 / moving.factor)


def residual_error(
    fixed: Prepared, moving: Prepared, transform: Transform, params: RegistrationParams
) -> tuple[float, int]:
    """The error estimate in input px: the finest patches matched once more through the
    whole ``transform`` (input px), median distance from their place; and how many matched."""
    block, search, _ = params.high_passes[-1]
    residual = patches_after(
        fixed,
        moving,
        transform.scaled(fixed.factor, moving.factor),
        block,
        search,
        block,
        params.high_sigma_px,
    )
    if not len(residual):
        return float("nan"), 0
    return float(np.median(np.linalg.norm(residual.shifts, axis=1))) / fixed.factor, len(residual)


def register(
    fixed_rgb: np.ndarray, moving_rgb: np.ndarray, params: RegistrationParams = RegistrationParams()
) -> Registration:
    """Align ``moving_rgb`` onto ``fixed_rgb`` (both (H, W, 3) uint8, at the same µm per px); raises
    ``RegistrationFailed`` with the reason rather than return a doubtful transform."""
    seconds: dict[str, float] = {}
    notes: list[str] = []
    started = time.perf_counter()
    low = low_level(fixed_rgb, moving_rgb, params, notes)
    seconds["low"] = time.perf_counter() - started

    started = time.perf_counter()
    middle = middle_level(fixed_rgb, moving_rgb, low, params, notes)
    seconds["middle"] = time.perf_counter() - started

    started = time.perf_counter()
    affine = intensity_affine(fixed_rgb, moving_rgb, middle, params, notes)
    fixed, moving = level_pair(fixed_rgb, moving_rgb, params.high_side)
    final = high_level(fixed, moving, affine, params, notes) if params.dense else affine
    seconds["high"] = time.perf_counter() - started

    error, count = residual_error(fixed, moving, final, params)
    return Registration(
        final,
        error,
        count,
        {"low": low, "middle": middle, "affine": affine, "high": final},
        seconds,
        notes,
    )
