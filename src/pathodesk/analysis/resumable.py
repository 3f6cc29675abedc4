"""Tile classification that gives way to interactive work and resumes where it stopped
(issue 19; SPEC E7 preemption): between batches the job asks whether an interactive job waits
for a worker; if so it keeps the probabilities of the tiles it has classified as the job's
checkpoint and goes back to the queue, and its next run starts at the first tile it had not
classified. The batches are the same as in one uninterrupted run (they start at a multiple
of the batch size), so the result is too."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

from pathodesk.analysis.inference import classify_tiles
from pathodesk.errors import Cancelled
from pathodesk.jobs.context import JobContext
from pathodesk.ml.model_file import LoadedModel
from pathodesk.progress import Progress
from pathodesk.slides.base import SlideReader
from pathodesk.tissue.grid import Tile


def encode_probabilities(probabilities: np.ndarray) -> dict[str, Any]:
    """Exactly the float32 values, small enough for a JSON column (4 bytes each, base64)."""
    data = np.ascontiguousarray(probabilities, np.float32)
    return {"shape": list(data.shape), "float32": base64.b64encode(data.tobytes()).decode("ascii")}


def decode_probabilities(encoded: dict[str, Any]) -> np.ndarray:
    shape = tuple(int(n) for n in encoded["shape"])
    return np.frombuffer(base64.b64decode(encoded["float32"]), np.float32).reshape(shape).copy()


def _restored(checkpoint: dict[str, Any] | None, probabilities: np.ndarray) -> int:
    """Tiles already classified by an earlier run of this job (0: none, or a checkpoint that
    does not fit this plan, which is then ignored)."""
    if not checkpoint or checkpoint.get("tiles") != len(probabilities):
        return 0
    done = decode_probabilities(checkpoint["done"])
    if done.ndim != 2 or done.shape[1] != probabilities.shape[1] or len(done) > len(probabilities):
        return 0
    probabilities[: len(done)] = done
    return len(done)


def classify_resumable(
    context: JobContext,
    reader: SlideReader,
    tiles: Sequence[Tile],
    loaded: LoadedModel,
    edge: int,
    stride: int,
    progress: Progress,
) -> tuple[np.ndarray, int]:
    """Every tile's probabilities, and the tile this run started at (0 unless it resumed)."""
    probabilities = np.zeros((len(tiles), len(loaded.labels)), np.float32)
    start = done = _restored(context.checkpoint, probabilities)

    def counted(classified: int, _total: int) -> None:
        nonlocal done
        done = start + classified
        progress(done, len(tiles))

    context.resumable = True
    try:
        classify_tiles(
            reader,
            tiles[start:],
            loaded,
            edge,
            stride=stride,
            progress=counted,
            should_stop=context.should_stop,
            out=probabilities[start:],
            give_way=context.give_way_to_viewers,
        )
    except Cancelled:
        if context.yielding:
            context.save_checkpoint({"tiles": len(tiles), "done": encode_probabilities(probabilities[:done])})
        raise
    return probabilities, start
