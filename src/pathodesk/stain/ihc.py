"""Nuclear immunohistochemistry scores (Ki-67, ER, PR): how many nuclei, how many of them
brown. The Ki-67 index a pathologist counts by eye on a hot spot, and the H-score, from
colour deconvolution (hematoxylin and DAB, Ruifrok & Johnston 2001), nuclei found as blobs of
nucleus size in the stains' optical density (scikit-image's Laplacian-of-Gaussian blob
detector: it finds pale negative nuclei beside dark positive ones, where one global
threshold keeps only one of the two), and each nucleus' DAB density against thresholds in
the units QuPath uses (mean DAB OD 0.2 / 0.4 / 0.6 for 1+ / 2+ / 3+)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pathodesk.progress import Progress
from pathodesk.stain.macenko import macenko_stains
from pathodesk.stain.optical import tissue_pixels, to_density

# rows: hematoxylin, DAB (Ruifrok & Johnston, Anal Quant Cytol Histol 2001), unit length
HEMATOXYLIN_DAB = np.array([[0.650, 0.704, 0.286], [0.268, 0.570, 0.776]])
HEMATOXYLIN_DAB = HEMATOXYLIN_DAB / np.linalg.norm(HEMATOXYLIN_DAB, axis=1, keepdims=True)

INTENSITY_THRESHOLDS = (0.2, 0.4, 0.6)  # mean DAB OD of a 1+, 2+, 3+ nucleus
NUCLEUS_RADIUS_UM = (2.5, 5.0)  # smallest and largest nucleus radius looked for
BLOB_THRESHOLD = 0.02  # Laplacian-of-Gaussian response (OD) of the faintest nucleus kept
DAB_SMOOTHING_UM = 1.2  # a nucleus' DAB is the density around its centre, not one pixel
BLOCK_PX = 1024  # blob detection holds one float per scale per pixel: bound it
HOT_SPOT_DIAMETER_UM = 500.0  # a disc of ~0.2 mm²: one high-power field, where Ki-67 is counted
BROWN_PIXEL_OD = 0.3  # DAB density of a pixel of a positive nucleus, at low power
# the second stain of a DAB slide lies within a few degrees of DAB (1.8–13.5° on six Ki-67
# images: OS-2 from two scanners, four DeepLIIF tiles); eosin 23.7–28.9° away (three H&E slides)
DAB_ANGLE_LIMIT = 18.0


@dataclass(frozen=True)
class NuclearScore:
    """Nuclei found in an image: centres (x, y) in its pixels and their DAB density."""

    centres: np.ndarray  # (n, 2) float, x then y
    dab: np.ndarray  # (n,) mean DAB OD around each centre
    positive_threshold: float

    def subset(self, keep: np.ndarray) -> NuclearScore:
        """The nuclei where ``keep`` is true (e.g. those inside a drawn region)."""
        return NuclearScore(self.centres[keep], self.dab[keep], self.positive_threshold)

    @property
    def total(self) -> int:
        return len(self.dab)

    @property
    def positive(self) -> np.ndarray:
        return self.dab >= self.positive_threshold

    @property
    def index(self) -> float | None:
        """Share of nuclei that are positive, in percent (the Ki-67 index); None without nuclei."""
        return 100.0 * float(self.positive.mean()) if self.total else None

    def intensity_counts(self) -> tuple[int, int, int, int]:
        """Nuclei that are negative, 1+, 2+, 3+."""
        grades = np.searchsorted(np.asarray(INTENSITY_THRESHOLDS), self.dab, side="right")
        counts = np.bincount(grades, minlength=4)
        return int(counts[0]), int(counts[1]), int(counts[2]), int(counts[3])

    @property
    def h_score(self) -> float | None:
        """1 × %1+ + 2 × %2+ + 3 × %3+ (0 to 300), the score of ER and PR."""
        if not self.total:
            return None
        _, weak, moderate, strong = self.intensity_counts()
        return 100.0 * (weak + 2 * moderate + 3 * strong) / self.total

    def summary(self) -> dict[str, object]:
        negative, weak, moderate, strong = self.intensity_counts()
        index, h_score = self.index, self.h_score
        return {
            "nuclei": self.total,
            "positive": int(self.positive.sum()),
            "index_percent": None if index is None else round(index, 2),
            "h_score": None if h_score is None else math.floor(h_score + 0.5),  # a whole number, 0–300
            "intensity": {"negative": negative, "1+": weak, "2+": moderate, "3+": strong},
            "positive_threshold": self.positive_threshold,
        }


def unmix_hematoxylin_dab(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hematoxylin and DAB amounts (OD) of each pixel of uint8 RGB, clipped at zero."""
    stains = np.vstack([HEMATOXYLIN_DAB, np.cross(HEMATOXYLIN_DAB[0], HEMATOXYLIN_DAB[1])])
    amounts = to_density(rgb).reshape(-1, 3) @ np.linalg.inv(stains)
    shape = rgb.shape[:2]
    return (
        np.maximum(amounts[:, 0], 0).reshape(shape).astype(np.float32),
        np.maximum(amounts[:, 1], 0).reshape(shape).astype(np.float32),
    )


def _nuclei_in_block(rgb: np.ndarray, mpp: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage
    from skimage.feature import blob_log

    hematoxylin, dab = unmix_hematoxylin_dab(rgb)
    low, high = (radius / mpp / np.sqrt(2) for radius in NUCLEUS_RADIUS_UM)  # LoG σ of a disc of radius r
    blobs = blob_log(
        hematoxylin + dab,
        min_sigma=low,
        max_sigma=high,
        num_sigma=5,
        threshold=BLOB_THRESHOLD,
        overlap=0.5,
        exclude_border=False,
    )
    rows, columns = blobs[:, 0].astype(int), blobs[:, 1].astype(int)
    smoothed = ndimage.gaussian_filter(dab, DAB_SMOOTHING_UM / mpp)
    return np.column_stack([columns, rows]).astype(np.float64), smoothed[rows, columns].astype(np.float64)


def score_nuclei(
    rgb: np.ndarray,
    mpp: float,
    *,
    positive_threshold: float = INTENSITY_THRESHOLDS[0],
    progress: Progress | None = None,
) -> NuclearScore:
    """Every nucleus of ``rgb`` (µm per pixel ``mpp``). Large images go block by block with a
    margin of two nucleus diameters, each nucleus counted by the block that holds its centre."""
    if mpp <= 0 or not np.isfinite(mpp):
        raise ValueError("the pixel size must be a positive number of µm")
    height, width = rgb.shape[:2]
    margin = int(np.ceil(4 * NUCLEUS_RADIUS_UM[1] / mpp))
    blocks = [(top, left) for top in range(0, height, BLOCK_PX) for left in range(0, width, BLOCK_PX)]
    centres, amounts = [], []
    for done, (top, left) in enumerate(blocks, 1):
        y0, x0 = max(top - margin, 0), max(left - margin, 0)
        y1, x1 = min(top + BLOCK_PX + margin, height), min(left + BLOCK_PX + margin, width)
        found, dab = _nuclei_in_block(rgb[y0:y1, x0:x1], mpp)
        found += (x0, y0)
        own = (
            (found[:, 0] >= left)
            & (found[:, 0] < left + BLOCK_PX)
            & (found[:, 1] >= top)
            & (found[:, 1] < top + BLOCK_PX)
        )
        centres.append(found[own])
        amounts.append(dab[own])
        if progress is not None:
            progress(done, len(blocks))
    points = np.concatenate(centres) if centres else np.zeros((0, 2))
    return NuclearScore(points, np.concatenate(amounts) if amounts else np.zeros(0), positive_threshold)


def overlay_picture(rgb: np.ndarray, score: NuclearScore, mpp: float) -> np.ndarray:
    """The image with each nucleus ringed: brown-red positive, blue negative (what the
    pathologist checks before trusting the number)."""
    import cv2

    picture = np.ascontiguousarray(rgb[..., :3]).copy()
    radius = max(3, round(NUCLEUS_RADIUS_UM[0] / mpp))
    for (x, y), positive in zip(score.centres, score.positive, strict=True):
        colour = (200, 30, 30) if positive else (30, 80, 220)
        cv2.circle(picture, (int(x), int(y)), radius, colour, thickness=2, lineType=cv2.LINE_AA)
    return picture


def dab_angle(rgb: np.ndarray) -> float | None:
    """Degrees between DAB and the second stain Macenko's method finds in the image: small
    on a DAB-stained slide, large on H&E (eosin); None without tissue."""
    tissue = tissue_pixels(rgb)
    if len(tissue) < 100:
        return None
    second = macenko_stains(tissue)[1]
    cosine = float(second @ HEMATOXYLIN_DAB[1]) / max(float(np.linalg.norm(second)), 1e-9)
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def hot_spot(
    rgb: np.ndarray, mpp: float, diameter_um: float = HOT_SPOT_DIAMETER_UM
) -> tuple[float, float] | None:
    """Centre (x, y px of ``rgb``, a low-power picture of a slide at ``mpp`` µm per px) of the
    disc of ``diameter_um`` with the most brown per area: the hot spot a Ki-67 index is counted
    in, the area densest in positive nuclei (brown pixels stand for them at low power). None
    without any brown."""
    import cv2

    _, dab = unmix_hematoxylin_dab(rgb)
    brown = (dab > BROWN_PIXEL_OD).astype(np.float32)
    radius = max(1, round(diameter_um / 2 / mpp))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)).astype(np.float32)
    brown_in_disc = cv2.filter2D(brown, -1, disc, borderType=cv2.BORDER_CONSTANT)  # off the slide: none
    if brown_in_disc.max() <= 0:
        return None
    row, column = (
        int(value) for value in np.unravel_index(int(np.argmax(brown_in_disc)), brown_in_disc.shape)
    )
    # many discs may hold the same brown: centre on the brown of the best one (one mean-shift
    # step), kept when it holds (nearly) as much
    rows, columns = np.nonzero(
        brown[max(0, row - radius) : row + radius + 1, max(0, column - radius) : column + radius + 1]
    )
    rows, columns = rows + max(0, row - radius), columns + max(0, column - radius)
    inside = (rows - row) ** 2 + (columns - column) ** 2 <= radius**2
    centred = round(float(rows[inside].mean())), round(float(columns[inside].mean()))
    if brown_in_disc[centred] >= 0.95 * brown_in_disc[row, column]:
        row, column = centred
    return float(column), float(row)
