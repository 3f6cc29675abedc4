"""The reader contract (slides/base.py ``SlideReader``), the same checks over every backend
and every sample we have: the CMU SVS (OpenSlide), our pyramid (tifffile), a PNG (raster),
a plain strip TIFF (tifffile), and with ../shared/data a DICOM WSI, a JPEG 2000 SVS, a strip
TIFF scan, a QPTIFF and an OME-TIFF."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from pathodesk.slides import open_slide
from pathodesk.slides.backends import BACKENDS, backend_for
from pathodesk.slides.base import SlideReader
from pathodesk.slides.overview import with_overview_levels
from tests.support.paths import SHARED_DATA

# (id, expected backend, how to get the file)
GENERATED = {
    "svs": "openslide",
    "pyramid": "tifffile-pyramid",
    "png": "raster",
    "strip-tiff": "tifffile",
}
SHARED = {
    "dicom": ("dicom", "wsi-samples/TCGA-XK-AAJU-01A-01-TS1_small_wsi.dcm"),
    "jpeg2000-svs": ("openslide", "wsi-samples/TCGA-CR-7395-01A-01-TS1.svs"),
    "strip-tiff-scan": ("tifffile", "wsi-samples/kidney-48-5_ihc.tif"),
    "qptiff": ("tifffile-pyramid", "wsi-samples/small_vectra_multiplex_fluorescence.qptiff"),
    "ome-tiff": ("tifffile-pyramid", "openslide-os-crops-ometiff/OS-2-vsi.ome.tif"),
}
# mean absolute difference (0-255) between a coarser level and level 0 reduced to it: our
# JPEG pyramid 4.9, the JPEG 2000 SVS 8.9 (each level compressed on its own, the scanner's
# reduction filter); a level shifted by 4 of its pixels scores 44
LEVEL_TOLERANCE = 12.0


@pytest.fixture(scope="module")
def generated(samples: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("contract")
    region = open_slide(samples["svs"]).read_region((600, 900), 0, (700, 500))
    Image.fromarray(region).save(folder / "region.png")
    tifffile.imwrite(folder / "region.tif", region, photometric="rgb")  # strips, no pyramid
    return {
        "svs": samples["svs"],
        "pyramid": samples["pyramid"],
        "png": folder / "region.png",
        "strip-tiff": folder / "region.tif",
    }


def _path(name: str, generated: dict[str, Path]) -> tuple[Path, str]:
    if name in GENERATED:
        return generated[name], GENERATED[name]
    backend, relative = SHARED[name]
    if not (SHARED_DATA / relative).is_file():
        pytest.skip(f"needs ../shared/data/{relative} (not found under {SHARED_DATA})")
    return SHARED_DATA / relative, backend


@pytest.fixture(params=[*GENERATED, *SHARED])
def sample(request: pytest.FixtureRequest, generated: dict[str, Path]) -> tuple[Path, str]:
    return _path(request.param, generated)


def test_each_sample_goes_to_the_backend_that_claims_it(sample: tuple[Path, str]) -> None:
    path, backend = sample
    head = path.read_bytes()[:132]
    assert backend_for(path, head).name == backend
    assert {b.name for b in BACKENDS} >= {"dicom", "tifffile-pyramid", "openslide", "tifffile", "raster"}


def test_levels_are_consistent(sample: tuple[Path, str]) -> None:
    info = open_slide(sample[0]).info
    assert info.dimensions == info.level_dimensions[0] and min(info.dimensions) > 0
    assert info.level_count == len(info.level_dimensions) == len(info.level_downsamples) >= 1
    assert info.level_downsamples[0] == 1.0
    assert list(info.level_downsamples) == sorted(info.level_downsamples)
    width, height = info.dimensions
    for (w, h), downsample in zip(info.level_dimensions, info.level_downsamples, strict=True):
        assert (
            abs(w * downsample - width) <= downsample + 1 and abs(h * downsample - height) <= downsample + 1
        )


def test_outside_the_image_is_white(sample: tuple[Path, str]) -> None:
    reader = open_slide(sample[0])
    width, height = reader.info.dimensions
    region = reader.read_region((width - 8, height - 8), 0, (32, 32))
    assert region.shape == (32, 32, 3) and region.dtype == np.uint8
    assert (region[8:, :] == 255).all() and (region[:, 8:] == 255).all()
    before = reader.read_region((-16, -16), 0, (24, 24))
    assert (before[:16] == 255).all() and (before[:, :16] == 255).all()


def _coarser_against_level_0(reader: SlideReader) -> float:
    info = reader.info
    level = 1 if info.level_count > 1 else 0
    downsample = info.level_downsamples[level]
    level_w, level_h = info.level_dimensions[level]
    size = min(64, level_w // 2, level_h // 2)
    x, y = (level_w - size) // 2, (level_h - size) // 2  # the middle, in level pixels
    origin = (round(x * downsample), round(y * downsample))
    coarse = reader.read_region(origin, level, (size, size)).astype(np.float32)
    fine_size = round(size * downsample)
    fine = reader.read_region(origin, 0, (fine_size, fine_size))
    reduced = cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    return float(np.abs(coarse - reduced).mean())


def test_a_coarser_level_shows_what_level_0_shows(sample: tuple[Path, str]) -> None:
    """Single-level files are checked through the overview levels the server adds to them."""
    reader = with_overview_levels(open_slide(sample[0]))
    difference = _coarser_against_level_0(reader)
    assert difference < LEVEL_TOLERANCE, f"level 1 differs from level 0 by {difference:.1f} on average"


def test_the_contract_test_notices_a_level_that_shows_something_else(samples: dict[str, Path]) -> None:
    """The check above fails on a reader whose coarser level is shifted by a quarter of it."""
    reader = open_slide(samples["pyramid"])
    original = reader.read_region

    def shifted(location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        if level > 0:
            location = (location[0] + 32 * 2, location[1] + 32 * 2)
        return original(location, level, size)

    reader.read_region = shifted  # type: ignore[method-assign]
    assert _coarser_against_level_0(reader) > LEVEL_TOLERANCE
