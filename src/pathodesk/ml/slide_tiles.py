"""Training tiles from annotated slides (SPEC B2): every tile of the tissue grid (1024 px by
default) lying mostly inside an annotation takes the annotation's class; the slide is the
group. Tiles over glass are left out even where an outline covers them.

Annotations are read as QuPath GeoJSON (``properties.classification.name``), the format the
annotation editor exports, in level-0 pixels.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import tempfile
from pathlib import Path

from PIL import Image
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from pathodesk.ml.data import DataError, LabelledSet, Region, Sample, load_rgb
from pathodesk.ml.tile_size import DEFAULT_TILE_PX
from pathodesk.progress import Progress
from pathodesk.slides import open_slide
from pathodesk.tissue import detect_tissue, tile_grid

MIN_INSIDE = 0.5  # share of a tile's area that must lie in the annotation
MIN_TISSUE = 0.5  # share of a tile that must be tissue (the tissue mask, B1)


def read_geojson_classes(path: Path) -> list[tuple[str, BaseGeometry]]:
    """(class name, geometry) of every classified feature."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError("%(name)s: not a readable GeoJSON file (%(exc)s)", name=path.name, exc=exc) from None
    features = document.get("features", []) if isinstance(document, dict) else []
    found = []
    for feature in features:
        classification = (feature.get("properties") or {}).get("classification") or {}
        name = classification.get("name")
        if name and feature.get("geometry"):
            geometry = shape(feature["geometry"])
            found.append((str(name), geometry if geometry.is_valid else geometry.buffer(0)))
    return found


def _tissue_tiles(slide: Path, tile_px: int) -> set[tuple[int, int]]:
    """Top-left corners of the grid tiles that are mostly tissue."""
    reader = open_slide(slide)
    try:
        tissue = detect_tissue(reader)
        tiles = tile_grid(tissue.mask, tissue.downsample, reader.info.dimensions, tile_px, MIN_TISSUE)
    finally:
        reader.close()
    return {(tile.x, tile.y) for tile in tiles}


def annotated_slide_tiles(
    slides: list[tuple[Path, Path]],
    tile_px: int = DEFAULT_TILE_PX,
    labels: list[str] | None = None,
    tissue_only: bool = True,
) -> LabelledSet:
    """Tiles of ``tile_px`` level-0 pixels from (slide, GeoJSON) pairs."""
    annotations = [(slide, read_geojson_classes(geojson)) for slide, geojson in slides]
    names = labels or sorted({name for _, found in annotations for name, _ in found})
    if len(names) < 2:
        raise DataError("annotated slides need at least two classes")
    samples = []
    for slide, found in annotations:
        tissue = _tissue_tiles(slide, tile_px) if tissue_only else None
        for name, geometry in found:
            if name not in names:
                continue
            inside = prep(geometry)
            x0, y0, x1, y1 = geometry.bounds
            for row in range(math.floor(y0 / tile_px), math.ceil(y1 / tile_px)):
                for col in range(math.floor(x0 / tile_px), math.ceil(x1 / tile_px)):
                    tile = box(col * tile_px, row * tile_px, (col + 1) * tile_px, (row + 1) * tile_px)
                    if tissue is not None and (col * tile_px, row * tile_px) not in tissue:
                        continue
                    if inside.intersects(tile) and geometry.intersection(tile).area >= MIN_INSIDE * tile.area:
                        region = Region(slide, col * tile_px, row * tile_px, tile_px)
                        samples.append(Sample(slide, names.index(name), slide.name, region))
    return LabelledSet(names, samples)


def write_class_folders(data: LabelledSet, out: Path, progress: Progress | None = None) -> Path:
    """The tiles as a data set the trainer reads (B2): one PNG per tile in a folder per class,
    and ``groups.csv`` (path,group: the slide) so that no slide is in two splits. Written
    under a temporary name and renamed: ``out`` is complete or absent."""
    if out.exists() and any(out.iterdir()):
        raise DataError("%(out)s exists and is not empty", out=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        rows = []
        for done, sample in enumerate(data.samples, start=1):
            region = sample.region
            assert region is not None
            name = f"{data.labels[sample.label]}/{region.slide.stem}_x{region.x}_y{region.y}.png"
            (staging / name).parent.mkdir(exist_ok=True)
            Image.fromarray(load_rgb(sample, region.size)).save(staging / name)
            rows.append((name, sample.group))
            if progress:
                progress(done, len(data.samples))
        with (staging / "groups.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "group"])
            writer.writerows(rows)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
