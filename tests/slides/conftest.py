"""Slide files the reader tests share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pathodesk.slides import open_slide
from pathodesk.slides.pyramid import write_pyramid


@pytest.fixture(scope="session")
def labelled_pyramid(samples: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pyramid PathoDesk wrote (low-resolution storage writes these) with the scan's label
    and macro as pages of their own: tifffile does not cache its pages, unlike an SVS's."""
    source = open_slide(samples["svs"])
    associated = {name: np.asarray(source.associated_image(name)) for name in ("label", "macro")}
    return write_pyramid(source, tmp_path_factory.mktemp("labelled") / "labelled.tiff", associated=associated)
