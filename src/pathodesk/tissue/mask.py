"""Tissue mask from a low-magnification image (SPEC B1; issue 5, item 1).

Binarize a tissue-sensitive channel with a threshold chosen from the image, then a
morphological opening removes specks and dust, a closing joins torn tissue, holes are
filled and small objects dropped.

- Bright field (H&E, IHC): HSV saturation, glass being grey-white and stained tissue
  coloured; ink from pen marks is taken out first. Otsu's threshold, floored so that an
  empty image does not split its own noise in two. Two cases where Otsu's two classes are
  not glass and tissue:
  - no glass in view (a crop inside the tissue): Otsu would split the tissue's own
    colours, so everything above the floor is tissue. Glass under a colour cast is
    saturated too, but still bright, so it still counts as glass;
  - glass, pale tissue and a dark stain (IHC: a light haematoxylin counterstain and brown
    DAB): Otsu separates the DAB; the lower of three Otsu classes separates the glass.
- Dark field (fluorescence, mostly near-black): tissue is what glows, so brightness.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.filters import threshold_multiotsu, threshold_otsu

from pathodesk.tissue.morphology import closing, fill_holes, opening, remove_small


@dataclass(frozen=True)
class TissueParams:
    """Defaults for a ~1.25x thumbnail (about 8 µm per pixel)."""

    magnification: float = 1.25
    min_saturation: float = 0.08  # glass stays below this whatever Otsu says
    opening_radius_px: int = 1
    closing_radius_px: int = 3
    min_object_um2: float = 40_000.0  # 0.04 mm²: smaller islands are dust or debris
    default_min_object_px: int = 64  # when the image has no known pixel size
    small_image_object_share: float = 0.01  # on a small crop, 1 % of it counts even under 0.04 mm²
    min_brightness: float = 0.05  # dark field: the floor on brightness
    exclude_pen: bool = True


def hsv(rgb: np.ndarray) -> np.ndarray:
    """HSV with hue in degrees and saturation/value in [0, 1] (OpenCV: 20x faster than
    scikit-image on a whole-slide thumbnail, same values to 0.002°)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb[..., :3], dtype=np.float32) / 255.0, cv2.COLOR_RGB2HSV)


def pen_ink_hsv(image_hsv: np.ndarray) -> np.ndarray:
    """Pixels of marker ink: green or blue hues (never H&E), or a red purer than eosin
    (eosin-stained tissue is pink, hue ~300-340° and less saturated)."""
    hue, saturation = image_hsv[..., 0], image_hsv[..., 1]
    # Hematoxylin is blue-purple (hue ~240-290°): only clearly blue ink counts above 200°.
    green_blue = ((hue > 70) & (hue < 200) & (saturation > 0.15)) | (
        (hue >= 200) & (hue < 250) & (saturation > 0.5)
    )
    red = ((hue < 15) | (hue > 345)) & (saturation > 0.55)
    return green_blue | red


def pen_ink(rgb: np.ndarray) -> np.ndarray:
    return pen_ink_hsv(hsv(rgb))


def tissue_channel(image_hsv: np.ndarray, exclude_pen: bool = True) -> np.ndarray:
    """Saturation in [0, 1]; ink pixels set to 0 so they never count as tissue."""
    saturation = image_hsv[..., 1]
    if exclude_pen:
        saturation = np.where(pen_ink_hsv(image_hsv), 0.0, saturation)
    return saturation


def tissue_mask(
    rgb: np.ndarray, mpp: float | None = None, params: TissueParams = TissueParams()
) -> np.ndarray:
    """Boolean mask of tissue in ``rgb`` (H, W, 3 uint8); ``mpp`` is the image's µm per pixel."""
    return tissue_mask_hsv(hsv(rgb), mpp, params)


DARK = 0.2  # brightness below which a pixel is near-black
DARK_FIELD_SHARE = 0.5  # near-black over half the image: fluorescence
# Measured on the thumbnails of the 5 sample slides and 3 crops here and the demo's mosaics:
# crops inside the tissue have 0-3 % glass-like pixels, slides with glass 15 % and more; the
# pale tissue between the floor and Otsu's threshold is 3-6 % of an H&E slide, 21 % of the
# Ki-67 crop (OS-2).
NO_BACKGROUND_SHARE = 0.05  # under 5 % glass-like pixels: only tissue in view
PALE_TISSUE_SHARE = 0.15  # over 15 % between the floor and Otsu's threshold: a third class
TINTED_GLASS = (0.9, 0.25)  # brightness above, saturation below: glass under a colour cast


def is_dark_field(image_hsv: np.ndarray) -> bool:
    """Mostly near-black: a fluorescence image, where tissue glows instead of absorbing."""
    return bool((image_hsv[..., 2] < DARK).mean() > DARK_FIELD_SHARE)


def glass_like(image_hsv: np.ndarray, min_saturation: float) -> np.ndarray:
    """Neutral pixels, or bright ones only tinted (a scanner's white balance off): what the
    background of a bright-field slide looks like, even under a colour cast."""
    saturation, value = image_hsv[..., 1], image_hsv[..., 2]
    brightness, tint = TINTED_GLASS
    return (saturation < min_saturation) | ((value > brightness) & (saturation < tint))


def binarize(channel: np.ndarray, floor: float, background: np.ndarray) -> np.ndarray:
    """Tissue where ``channel`` exceeds a threshold of its own (module docstring)."""
    if channel.max() - channel.min() <= 1e-6 or background.mean() < NO_BACKGROUND_SHARE:
        return channel > floor
    threshold = threshold_otsu(channel)
    if ((channel > floor) & (channel <= threshold)).mean() > PALE_TISSUE_SHARE:
        with suppress(ValueError):  # too few distinct values for three classes
            threshold = threshold_multiotsu(channel, classes=3)[0]
    return channel > max(threshold, floor)


def tissue_mask_hsv(
    image_hsv: np.ndarray, mpp: float | None = None, params: TissueParams = TissueParams()
) -> np.ndarray:
    """As ``tissue_mask``, from an image already converted with ``hsv``."""
    if is_dark_field(image_hsv):
        value = image_hsv[..., 2]
        mask = binarize(value, params.min_brightness, value < DARK)
    else:
        channel = tissue_channel(image_hsv, params.exclude_pen)
        mask = binarize(channel, params.min_saturation, glass_like(image_hsv, params.min_saturation))
    if params.opening_radius_px:
        mask = opening(mask, params.opening_radius_px)
    if params.closing_radius_px:
        mask = closing(mask, params.closing_radius_px)
    mask = fill_holes(mask)
    min_px = params.default_min_object_px if not mpp else max(1, round(params.min_object_um2 / (mpp * mpp)))
    return remove_small(mask, min(min_px, max(1, round(params.small_image_object_share * mask.size))))
