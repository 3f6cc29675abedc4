"""Split, parallel, stitch (issue 19; SPEC E7): a whole-slide analysis of many tiles runs as
parts — child jobs of ``PART_TILES`` tiles each (``Settings.part_tiles``) that any worker may
take — and its own job merges their probabilities in tile order. Parts start at multiples
of the batch size, so every batch is the one a single run would classify: the merged result
is the single-process result, probability for probability.

The job that split the analysis also runs parts itself, so a lone worker never waits for
itself; it only waits for parts other workers are running. A part whose worker died is
queued again by the usual heartbeat check and taken by whoever is free.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.analysis.inference import BATCH_SIZE
from pathodesk.analysis.resumable import decode_probabilities
from pathodesk.analysis.run import TilePlan
from pathodesk.db.models import Job, JobState
from pathodesk.errors import Cancelled
from pathodesk.jobs import queue
from pathodesk.jobs.context import JobContext
from pathodesk.jobs.kinds import Handler
from pathodesk.jobs.worker import context_of, run_claimed
from pathodesk.progress import Progress

PART_KIND = "analyze-part"
WAIT_SECONDS = 0.2


class PartFailed(RuntimeError):
    pass


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


def _parts(context: JobContext, plan: TilePlan, model_id: int, part_tiles: int) -> list[int]:
    """The ids of this analysis's parts, created on its first run (a resumed run finds them)."""
    with context.db.session() as session:
        found = list(session.scalars(select(Job.id).where(Job.parent_id == context.job_id).order_by(Job.id)))
        if found:
            return found
        parent = session.get(Job, context.job_id)
        priority = parent.priority if parent is not None else 0
        created = []
        for start, stop in part_bounds(len(plan.tiles), part_tiles):
            params = {
                "model_id": model_id,
                "edge": plan.edge,
                "stride": plan.stride,
                "start": start,
                "tiles": [[tile.x, tile.y] for tile in plan.tiles[start:stop]],
            }
            part = queue.submit(
                session, PART_KIND, context.slide_id, params, user_id=context.user_id, priority=priority
            )
            part.parent_id = context.job_id
            created.append(part)
        session.commit()
        return [part.id for part in created]


def run_in_parts(
    context: JobContext,
    plan: TilePlan,
    model_id: int,
    part_tiles: int,
    run_part: Handler,
    progress: Progress,
) -> PartsOutcome:
    part_ids = _parts(context, plan, model_id, part_tiles)
    context.resumable = True  # its parts are its checkpoint
    table = {PART_KIND: run_part}
    while True:
        if context.should_stop():
            if not context.yielding:
                _cancel(context, part_ids)
            raise Cancelled("analysis cancelled")
        with context.db.session() as session:
            states = session.execute(
                select(Job.id, Job.state, Job.progress, Job.error)
                .where(Job.id.in_(part_ids))
                .order_by(Job.id)
            ).all()
            progress(
                round(len(plan.tiles) * sum(row.progress for row in states) / len(states)), len(plan.tiles)
            )
            failed = next((row for row in states if row.state in (JobState.failed, JobState.cancelled)), None)
            if failed is not None:
                raise PartFailed(f"part {failed.id} {failed.state.value}: {failed.error or ''}".strip())
            if all(row.state == JobState.succeeded for row in states):
                return _stitched(session, part_ids, len(plan.tiles))
            waiting = [row.id for row in states if row.state == JobState.queued]
            claimed = next(
                (job for job_id in waiting if (job := queue.claim(session, job_id, context.worker))), None
            )
            part = (
                None if claimed is None else context_of(claimed, context.db, context.settings, context.worker)
            )
        if part is None:
            time.sleep(WAIT_SECONDS)  # the parts left run on other workers
            continue
        part.serves_interactive = context.serves_interactive
        run_claimed(context.db, context.settings, table, context.worker, PART_KIND, part)


def _stitched(session: Session, part_ids: list[int], tiles: int) -> PartsOutcome:
    """The parts' probabilities in tile order; the parts' rows go, their work now in the
    parent's result."""
    parts = sorted(
        session.scalars(select(Job).where(Job.id.in_(part_ids))),
        key=lambda part: int(str(part.params["start"])),
    )
    probabilities = np.concatenate([decode_probabilities(dict(part.result or {})) for part in parts])
    if len(probabilities) != tiles:
        raise PartFailed(f"the parts classified {len(probabilities)} tiles of {tiles}")
    workers = [part.worker or "" for part in parts]
    for part in parts:
        session.delete(part)
    session.commit()
    return PartsOutcome(probabilities, workers)


def _cancel(context: JobContext, part_ids: list[int]) -> None:
    with context.db.session() as session:
        for part in session.scalars(select(Job).where(Job.id.in_(part_ids))):
            if part.state not in queue.FINISHED:
                queue.cancel(session, part)
        session.commit()
