"""The Ki-67 index of a region drawn on a nuclear IHC slide (the job behind
``POST /api/v1/annotations/{id}/ihc``): the region's box read at 0.5 µm per px, its nuclei
found and graded (``stain.ihc``), those whose centre lies inside the outline kept. The result
lives on the job: the counts, the index and H-score, and every nucleus (level-0 px and its
DAB density) for the viewer to draw. A region edited after its count keeps the old count,
marked as made on an earlier version of the outline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.analysis.job_names import IHC_KIND
from pathodesk.analysis.section_images import read_window
from pathodesk.config import Settings
from pathodesk.db.models import Annotation, Job, JobState, Slide
from pathodesk.errors import Cancelled, NotFoundError, ValidationFailedError
from pathodesk.i18n import N_
from pathodesk.jobs.context import JobContext
from pathodesk.stain.ihc import (
    DAB_ANGLE_LIMIT,
    HOT_SPOT_DIAMETER_UM,
    INTENSITY_THRESHOLDS,
    dab_angle,
    hot_spot,
    score_nuclei,
)

COUNTING = N_("counting nuclei")
READ_MPP = 0.5  # 20×: a nucleus of 5 µm is 10 px across, and a mm² is 4 megapixels
COARSEST_MPP = 1.0  # coarser scans (10× and below) cannot show a nucleus' colour reliably
MAX_REGION_MM2 = 10.0  # hot spots are ~0.2–2 mm²; a whole section is not a Ki-67 count
HOT_SPOT_MPP = 2.0  # the hot spot is looked for at low power: 2 µm per px or coarser
HOT_SPOT_SIDE = 4096  # longest side of that picture, whatever the slide's size


@dataclass(frozen=True)
class RegionPlan:
    box: tuple[float, float, float, float]  # level-0 px
    downsample: float  # level-0 px per px read
    read_mpp: float


def plan_region(slide: Slide, annotation: Annotation) -> RegionPlan:
    """Where and how finely to read a region; a readable refusal for what cannot be counted
    (said when the count is asked for, and again when it runs)."""
    if annotation.shape == "point" or annotation.geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationFailedError("Nuclei are counted inside a drawn region, not at a point.")
    if not slide.mpp:
        raise ValidationFailedError(
            "This slide does not say its pixel size, so nuclei cannot be told by their size."
        )
    if slide.mpp > COARSEST_MPP:
        raise ValidationFailedError(
            "This slide was scanned at %(mpp).2f µm per pixel: counting nuclei needs 10× or finer "
            "(%(limit).1f µm per pixel or less).",
            mpp=slide.mpp,
            limit=COARSEST_MPP,
        )
    outline = shape(annotation.geometry)
    area_mm2 = outline.area * slide.mpp**2 / 1e6
    if area_mm2 > MAX_REGION_MM2:
        raise ValidationFailedError(
            "The region covers %(area).1f mm²; count nuclei in hot spots of at most %(limit).0f mm².",
            area=area_mm2,
            limit=MAX_REGION_MM2,
        )
    x0, y0, x1, y1 = outline.bounds
    box = (max(0.0, x0), max(0.0, y0), min(float(slide.width), x1), min(float(slide.height), y1))
    downsample = max(1.0, READ_MPP / slide.mpp)
    return RegionPlan(box, downsample, slide.mpp * downsample)


def hot_spot_outline(settings: Settings, slide: Slide) -> dict[str, Any]:
    """The slide's Ki-67 hot spot (``stain.ihc.hot_spot``) as a GeoJSON disc in level-0 px,
    read from a low-power picture of the whole slide; a readable refusal where there is none."""
    if not slide.mpp:
        raise ValidationFailedError(
            "This slide does not say its pixel size, so nuclei cannot be told by their size."
        )
    downsample = max(HOT_SPOT_MPP / slide.mpp, max(slide.width, slide.height) / HOT_SPOT_SIDE, 1.0)
    picture = read_window(settings, slide, (0.0, 0.0, float(slide.width), float(slide.height)), downsample)
    angle = dab_angle(picture)
    if angle is not None and angle > DAB_ANGLE_LIMIT:
        raise ValidationFailedError(
            "This slide does not look stained with DAB (brown): a Ki-67 hot spot is looked for on "
            "DAB-stained slides, not on H&E."
        )
    centre = hot_spot(picture, slide.mpp * downsample) if angle is not None else None
    if centre is None:
        raise ValidationFailedError("No brown (DAB-stained) tissue was found on this slide.")
    x, y = ((value + 0.5) * downsample for value in centre)
    disc = shapely.Point(x, y).buffer(HOT_SPOT_DIAMETER_UM / 2 / slide.mpp, quad_segs=16)
    inside = disc.intersection(shapely.box(0, 0, slide.width, slide.height))
    return shapely.geometry.mapping(inside)


def run_ihc_scoring(context: JobContext) -> dict[str, object]:
    annotation_id = int(context.params["annotation_id"])
    threshold = float(context.params.get("threshold", INTENSITY_THRESHOLDS[0]))
    with context.db.session() as session:
        annotation = session.get(Annotation, annotation_id)
        if annotation is None or annotation.deleted:
            raise NotFoundError("annotation %(annotation_id)s does not exist", annotation_id=annotation_id)
        slide = session.get_one(Slide, annotation.slide_id)
        plan = plan_region(slide, annotation)
        outline, version = shape(annotation.geometry), annotation.version
        session.expunge(slide)
    context.report(0.02, COUNTING)
    image = read_window(context.settings, slide, plan.box, plan.downsample)

    def advance(done: int, total: int) -> None:
        context.report(0.05 + 0.9 * done / total, COUNTING)
        if context.should_stop():  # cancelled between blocks
            raise Cancelled

    score = score_nuclei(image, plan.read_mpp, positive_threshold=threshold, progress=advance)
    # centres of the pixels read, in level-0 px; only nuclei inside the outline count
    level0 = (score.centres + 0.5) * plan.downsample + np.asarray(plan.box[:2])
    inside = shapely.contains_xy(outline, level0[:, 0], level0[:, 1])
    score = score.subset(inside)
    level0 = level0[inside]
    return {
        "annotation_id": annotation_id,
        "annotation_version": version,
        "slide_id": slide.id,
        "read_mpp": round(plan.read_mpp, 4),
        "area_mm2": round(outline.area * (slide.mpp or 0) ** 2 / 1e6, 4),
        **score.summary(),
        "cells": [
            [round(float(x), 1), round(float(y), 1), round(float(dab), 3)]
            for (x, y), dab in zip(level0, score.dab, strict=True)
        ],
    }


def _newest_counts(session: Session, slide_id: int) -> dict[int, int]:
    """The job id of the newest finished count of each annotation of a slide, chosen by the
    small ``params``: the results (every nucleus) are read only of the jobs needed."""
    rows = session.execute(
        select(Job.id, Job.params)
        .where(Job.kind == IHC_KIND, Job.slide_id == slide_id, Job.state == JobState.succeeded)
        .order_by(Job.finished_at.desc(), Job.id.desc())
    )
    newest: dict[int, int] = {}
    for job_id, params in rows:
        asked: dict[str, Any] = params or {}
        newest.setdefault(int(asked.get("annotation_id", 0)), job_id)
    return newest


def counts_by_outline(session: Session, slide_id: int) -> dict[tuple[int, int], dict[str, Any]]:
    """Each annotation's newest count keyed by (annotation id, the outline version it was made
    on), nuclei left out: what a report states beside the outline it was counted in."""
    counts: dict[tuple[int, int], dict[str, Any]] = {}
    for annotation_id, job_id in _newest_counts(session, slide_id).items():
        result: dict[str, Any] = session.get_one(Job, job_id).result or {}
        key = (annotation_id, int(result.get("annotation_version", 0)))
        counts[key] = {name: value for name, value in result.items() if name != "cells"}
    return counts


def last_ihc_score(session: Session, annotation: Annotation) -> dict[str, Any] | None:
    """The region's newest finished count, with ``current`` false when the outline changed
    since (the count stands for the earlier outline)."""
    job_id = _newest_counts(session, annotation.slide_id).get(annotation.id)
    job = session.get(Job, job_id) if job_id is not None else None
    if job is None or job.result is None:
        return None
    return {
        **job.result,
        "job_id": job.id,
        "counted_at": job.finished_at.isoformat() if job.finished_at else None,
        "current": job.result.get("annotation_version") == annotation.version,
    }
