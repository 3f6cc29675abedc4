"""High-resolution mode (SPEC E7, E8): a slide kept at low resolution generated whole, in
advance, as a full-resolution pyramid in the temporary fast store, so a reading station
reads it like a scanned slide instead of waiting for each tile.

The job walks the scan's grid tile by tile through the same reader the viewer uses (every
tile enlarged with its context margin, so the pyramid has no seams), gives way between
tiles while a viewer waits (E7), and writes the file whole or not at all. The file is named
by the slide's checksum and the generators that made it: activating another model makes
a new one, and the viewer serves generated levels from it while it matches.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from pathodesk.analysis.job_names import PREGENERATE_PART
from pathodesk.analysis.superres_service import SuperResolution
from pathodesk.config import Settings
from pathodesk.db.models import Slide
from pathodesk.db.session import Database
from pathodesk.errors import Cancelled, NotFoundError, ValidationFailedError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.jobs.parts import run_parts
from pathodesk.slides import open_slide
from pathodesk.slides.pyramid import TileSource, level_tile, pyramid_tiles, write_pyramid
from pathodesk.slides.superresolved import SuperResolvedReader, stored_downsample
from pathodesk.storage import slide_file
from pathodesk.storage.temporary import generated_slides_dir

TILE = 256  # the generated pyramid's tiles
WRITING_FROM = 0.9  # progress when parts have generated the tiles and the pyramid is written
GENERATING = N_("generating the full-resolution slide")
PyramidTile = tuple[int, int, int]  # level, column, row


def pregenerated_path(settings: Settings, sha256: str, tag: str) -> Path:
    """Where the whole generated pyramid of a slide (checksum) by generators ``tag`` lives."""
    safe = "".join(c if c.isalnum() else "-" for c in tag)
    return generated_slides_dir(settings) / f"{sha256}-{safe}.tif"


def run_pregeneration(context: JobContext) -> dict[str, object]:
    def progress(fraction: float) -> None:
        if context.should_stop():  # also where it gives way to a waiting viewer (E7)
            raise Cancelled
        context.report(fraction, GENERATING)

    assert context.slide_id is not None
    settings = context.settings

    workers: list[str] = []

    def split(order: list[PyramidTile]) -> TileSource | None:
        """E7 split: more tiles than a part holds go to parts any worker may take."""
        part_tiles = settings.pregenerate_parts
        if not part_tiles or len(order) <= part_tiles:
            return None
        return _tiles_from_parts(context, order, part_tiles, workers)

    target, tag = generate_full_resolution(settings, context.db, context.slide_id, progress, split)
    shutil.rmtree(_parts_folder(settings, context.job_id), ignore_errors=True)
    return {
        "path": target.name,
        "bytes": target.stat().st_size,
        "generators": tag,
        "parts": len(workers) or 1,
        "part_workers": sorted(set(workers)),
    }


def generate_full_resolution(
    settings: Settings,
    db: Database,
    slide_id: int,
    progress: Callable[[float], None],
    split: Callable[[list[PyramidTile]], TileSource | None] | None = None,
) -> tuple[Path, str]:
    """The slide's whole generated pyramid (made now unless there already) and the tag of the
    generators that made it; ``progress`` gets the fraction done and may raise to stop.
    ``split`` may have the tiles made elsewhere (by a job's parts) and give them back."""
    with db.session() as session:
        slide = session.get(Slide, slide_id)
        if slide is None:
            raise NotFoundError("slide %(slide_id)s no longer exists", slide_id=slide_id)
        if slide.store_downsample == 1:
            raise ValidationFailedError(
                "slide %(slide_id)s is kept at full resolution already", slide_id=slide.id
            )
        path, sha256, disease_type, mpp = (
            slide_file(settings, slide),
            slide.sha256,
            slide.exam.disease_type,
            slide.mpp,
        )
    service = SuperResolution(settings, db)
    tag = service.tag(disease_type)
    target = pregenerated_path(settings, sha256, tag)
    if target.is_file():
        return target, tag
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(0.01)
    stored = open_slide(path)
    try:
        if stored_downsample(stored.info) == 1:
            raise ValidationFailedError(
                "the stored file of slide %(slide_id)s is not reduced", slide_id=slide_id
            )
        source = SuperResolvedReader(stored, service.enlarger(disease_type))
        width, height = source.info.dimensions
        tiles = split(pyramid_tiles(width, height, TILE)) if split is not None else None
        first = 0.01 if tiles is None else WRITING_FROM  # the parts did the generating
        write_pyramid(
            source,
            target,
            tile=TILE,
            mpp=mpp,
            progress=lambda done, total: progress(first + (0.99 - first) * done / max(1, total)),
            tiles=tiles,
        )
    finally:
        stored.close()
    return target, tag


def _parts_folder(settings: Settings, job_id: int) -> Path:
    return generated_slides_dir(settings) / f"job-{job_id}.parts"


def _tiles_from_parts(
    context: JobContext, order: list[PyramidTile], part_tiles: int, workers: list[str]
) -> TileSource:
    """Run the parts (each generates a run of ``order`` and keeps it, lossless, in a file of
    the temporary store; ``workers`` gets who ran each); the tiles, read back in the order
    the pyramid is written."""
    folder = _parts_folder(context.settings, context.job_id)
    bounds = [(start, min(len(order), start + part_tiles)) for start in range(0, len(order), part_tiles)]
    params = [{"start": start, "stop": stop, "folder": folder.name} for start, stop in bounds]

    def report(done: float) -> None:
        context.report(0.01 + (WRITING_FROM - 0.01) * done, GENERATING)

    parts = run_parts(context, PREGENERATE_PART, params, run_pregeneration_part, report)
    context.resumable = False  # writing the pyramid from the parts' files is not: the parts are gone
    workers.extend(part.worker for part in parts)
    position = {tile: index for index, tile in enumerate(order)}
    loaded: dict[int, list[bytes]] = {}

    def tile(k: int, col: int, row: int) -> np.ndarray:
        index = position[(k, col, row)]
        start = index - index % part_tiles
        if start not in loaded:
            loaded.clear()  # one part's tiles in memory at a time: they are asked in order
            loaded[start] = _read_part(folder / _part_name(start))
        return _decode(loaded[start][index - start])

    return tile


def run_pregeneration_part(context: JobContext) -> dict[str, object]:
    """A run of the generated pyramid's tiles (``_tiles_from_parts``), kept losslessly."""
    assert context.slide_id is not None
    start, stop = int(context.params["start"]), int(context.params["stop"])
    folder = generated_slides_dir(context.settings) / str(context.params["folder"])
    with context.db.session() as session:
        slide = session.get(Slide, context.slide_id)
        if slide is None:
            raise NotFoundError("slide %(slide_id)s no longer exists", slide_id=context.slide_id)
        path, disease_type = slide_file(context.settings, slide), slide.exam.disease_type
    stored = open_slide(path)
    try:
        source = SuperResolvedReader(
            stored, SuperResolution(context.settings, context.db).enlarger(disease_type)
        )
        width, height = source.info.dimensions
        encoded = []
        for done, (k, col, row) in enumerate(pyramid_tiles(width, height, TILE)[start:stop]):
            if context.should_stop():
                raise Cancelled
            encoded.append(_encode(level_tile(source, k, col, row, TILE)))
            context.report(done / max(1, stop - start), GENERATING)
    finally:
        stored.close()
    folder.mkdir(parents=True, exist_ok=True)
    _write_part(folder / _part_name(start), encoded)
    return {"tiles": stop - start}


def _part_name(start: int) -> str:
    return f"{start:09d}.npz"


def _encode(rgb: np.ndarray) -> bytes:
    ok, png = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("a generated tile could not be encoded")
    return png.tobytes()


def _decode(png: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("a generated tile could not be read back")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _write_part(path: Path, encoded: list[bytes]) -> None:
    """Whole or not at all: under a temporary name, then renamed."""
    lengths = np.array([len(png) for png in encoded], np.int64)
    data = np.frombuffer(b"".join(encoded), np.uint8)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        np.savez(out, lengths=lengths, data=data)
    os.replace(partial, path)


def _read_part(path: Path) -> list[bytes]:
    with np.load(path, allow_pickle=False) as part:
        lengths, data = part["lengths"], part["data"].tobytes()
    ends = np.cumsum(lengths)
    return [data[end - length : end] for length, end in zip(lengths.tolist(), ends.tolist(), strict=True)]
