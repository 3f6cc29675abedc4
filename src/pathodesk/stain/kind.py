"""Which stain a bright-field slide carries, told from its thumbnail (SPEC E2): H&E or
immunohistochemistry with DAB. The colour check compares a slide with a reference of its
own stain (``qc.colour_reference``: an IHC slide measured against an H&E picture is flagged
whatever its staining), and a model's card names the stain it learned from
(``ml.pipeline.dominant_stain``), so the viewer warns before H&E models outline an IHC slide.

DAB is brown (hue 5-70°); H&E has none of it, but eosin's pink-magenta (hue ≥ 290° or
under 5°), which IHC lacks. A slide is IHC when brown is at least 3 % of its coloured tissue
and more than pink. Measured on ../shared/data (``tests/qc/test_stain.py``), on the
coloured tissue (saturation > 0.05) of each picture shrunk 8× as a thumbnail sees it:
- none of 312 H&E pictures (LC25000, ThyHisTer, MoNuSeg, BCI and MIST, the ANHIR H&E
  sections, the stain references) is called IHC;
- 23 of 31 IHC pictures (BCI and MIST HER2, DeepLIIF Ki-67, ANHIR) are, and so are both
  OS-2 Ki-67 scans (brown 0.07 and 0.17 of their thumbnails). Of the 8 missed, 7 show
  almost no DAB (negative staining): by colour alone they look like H&E without eosin, and
  are kept as H&E, as every slide was before; in one, a dark brown tile shrunk to 64 px, no
  tissue was found.

The Ki-67 hot spot keeps its own, more lenient test (``stain.ihc.dab_angle``: Macenko's
second stain against DAB's direction), which refuses only what is clearly not DAB: a slide
with few positive nuclei must still get its hot spot. On the same pictures it lets 10 of the
312 H&E through and finds 23 of the 31 IHC.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

HE = "he"
IHC = "ihc"
STAINS = (HE, IHC)  # the bright-field stains, each with its own colour reference
FLUORESCENCE = "fluorescence"  # dark field: no stain colours to compare

COLOURED = 0.05  # saturation above which a pixel shows a stain at all
DAB_HUES = (5.0, 70.0)  # degrees: brown
EOSIN_HUES = (290.0, 5.0)  # degrees, through red: pink to magenta
MIN_DAB_SHARE = 0.03  # of the coloured tissue


def stain_shares(image_hsv: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(brown, pink) shares of the coloured tissue pixels (``tissue.mask.hsv`` values)."""
    pixels = image_hsv[mask]
    hue = pixels[pixels[:, 1] > COLOURED, 0]
    if hue.size == 0:
        return 0.0, 0.0
    brown = (hue >= DAB_HUES[0]) & (hue < DAB_HUES[1])
    pink = (hue >= EOSIN_HUES[0]) | (hue < EOSIN_HUES[1])
    return float(brown.mean()), float(pink.mean())


def detect_stain(image_hsv: np.ndarray, mask: np.ndarray, dark_field: bool = False) -> str:
    """``IHC`` or ``HE`` (module docstring), ``FLUORESCENCE`` for a dark-field image; a slide
    without tissue is taken to be H&E."""
    if dark_field:
        return FLUORESCENCE
    brown, pink = stain_shares(image_hsv, mask)
    return IHC if brown >= MIN_DAB_SHARE and brown > pink else HE


def other_stain(slide: object, learned: Iterable[object]) -> str | None:
    """The stain models ``learned`` from (their cards' ``stain``) where a slide was found
    stained otherwise (H&E models on an IHC slide); None when they agree or either is unknown."""
    known = {str(stain) for stain in learned} & set(STAINS)
    if slide not in STAINS or not known or known == {slide}:
        return None
    return sorted(known - {str(slide)})[0]
