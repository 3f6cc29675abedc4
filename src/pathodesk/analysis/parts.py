"""A whole-slide analysis split into parts (issue 19; SPEC E7 split, parallel, stitch): parts
of ``Settings.part_tiles`` tiles (``jobs.parts``) whose probabilities are merged in tile order.
Parts start at multiples of the batch size, so every batch is the one a single run would
classify: the merged result is the single-process result, probability for probability."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pathodesk.analysis.inference import BATCH_SIZE
from pathodesk.analysis.job_names import PART_KIND
from pathodesk.analysis.resumable import decode_probabilities
from pathodesk.analysis.run import TilePlan
from pathodesk.jobs.context import JobContext
from pathodesk.jobs.kinds import Handler
from pathodesk.jobs.parts import PartFailed, run_parts
from pathodesk.progress import Progress


@dataclass(frozen=True)
class PartsOutcome:
    probabilities: np.ndarray
    workers: list[str]  # who ran the parts, in part order


def part_bounds(tiles: int, part_tiles: int) -> list[tuple[int, int]]:
    """[start, stop) of each part: whole batches, as even as that allows."""
    batches = math.ceil(tiles / BATCH_SIZE)
    parts = max(1, math.ceil(tiles / max(part_tiles, BATCH_SIZE)))
    per_part = math.ceil(batches / parts) * BATCH_SIZE
    return [(start, min(tiles, start + per_part)) for start in range(0, tiles, per_part)]


def run_in_parts(
    context: JobContext,
    plan: TilePlan,
    model_id: int,
    part_tiles: int,
    run_part: Handler,
    progress: Progress,
) -> PartsOutcome:
    params = [
        {
            "model_id": model_id,
            "edge": plan.edge,
            "stride": plan.stride,
            "start": start,
            "tiles": [[tile.x, tile.y] for tile in plan.tiles[start:stop]],
        }
        for start, stop in part_bounds(len(plan.tiles), part_tiles)
    ]
    total = len(plan.tiles)
    parts = run_parts(context, PART_KIND, params, run_part, lambda done: progress(round(total * done), total))
    probabilities = np.concatenate([decode_probabilities(part.result) for part in parts])
    if len(probabilities) != total:
        raise PartFailed(f"the parts classified {len(probabilities)} tiles of {total}")
    return PartsOutcome(probabilities, [part.worker for part in parts])
