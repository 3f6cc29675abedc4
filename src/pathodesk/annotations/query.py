"""Reading annotations back: by viewport through the spatial index (issue 4, item 6), and
as the features the API, the exports and the frozen review rounds share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session, selectinload

from pathodesk.annotations.geometry import simplified
from pathodesk.db.models import Annotation, Slide


@dataclass(frozen=True)
class Viewport:
    """A level-0 rectangle; ``tolerance`` (level-0 px) simplifies, ``min_size`` drops what
    would be smaller than a screen pixel at the current zoom."""

    x0: float
    y0: float
    x1: float
    y1: float
    tolerance: float = 0.0
    min_size: float = 0.0


def _in_view(session: Session, query: Select[Any], view: Viewport) -> Select[Any]:
    corners = {"x0": view.x0, "y0": view.y0, "x1": view.x1, "y1": view.y1}
    if session.get_bind().dialect.name == "sqlite":
        hits = text(
            "SELECT id FROM annotations_rtree"
            " WHERE max_x >= :x0 AND min_x <= :x1 AND max_y >= :y0 AND min_y <= :y1"
        ).bindparams(**corners)
        return query.where(Annotation.id.in_(hits))
    overlap = text(
        "box(point(annotations.min_x, annotations.min_y), point(annotations.max_x, annotations.max_y))"
        " && box(point(:x0, :y0), point(:x1, :y1))"
    ).bindparams(**corners)
    return query.where(overlap)


def live_annotations(
    session: Session,
    slide_id: int,
    view: Viewport | None = None,
    label: str | None = None,
    source: str | None = None,
) -> list[Annotation]:
    query = select(Annotation).where(Annotation.slide_id == slide_id, Annotation.deleted.is_(False))
    if view is not None:
        query = _in_view(session, query, view)
        if view.min_size > 0:
            query = query.where(
                (Annotation.max_x - Annotation.min_x >= view.min_size)
                | (Annotation.max_y - Annotation.min_y >= view.min_size)
            )
    if label:
        query = query.where(Annotation.label == label)
    if source:
        query = query.where(Annotation.source == source)
    return list(session.scalars(query.options(selectinload(Annotation.author)).order_by(Annotation.id)))


def count_in_view(session: Session, slide_id: int, view: Viewport) -> int:
    query = select(func.count(Annotation.id)).where(
        Annotation.slide_id == slide_id, Annotation.deleted.is_(False)
    )
    return int(session.scalar(_in_view(session, query, view)) or 0)


def feature(
    annotation: Annotation, slide: Slide, colours: dict[str, str], tolerance: float = 0.0
) -> dict[str, Any]:
    """One annotation as the API and the review snapshot show it; µm from the slide's mpp."""
    mpp = slide.mpp
    geometry = annotation.geometry
    simplify = tolerance > 0 and annotation.vertex_count > 8
    if simplify:
        geometry = simplified(geometry, tolerance)
    return {
        "id": annotation.id,
        "slide_id": annotation.slide_id,
        "label": annotation.label,
        "color": colours.get(annotation.label, "#808080"),
        "shape": annotation.shape,
        "source": annotation.source,
        "probability": annotation.probability,
        "geometry": geometry,
        "simplified": simplify,
        "bbox": [annotation.min_x, annotation.min_y, annotation.max_x, annotation.max_y],
        "area_px": annotation.area_px,
        "perimeter_px": annotation.perimeter_px,
        "area_um2": annotation.area_px * mpp * mpp if mpp else None,
        "perimeter_um": annotation.perimeter_px * mpp if mpp else None,
        "author": annotation.author.account if annotation.author else None,
        "created_at": annotation.created_at.isoformat(),
        "updated_at": annotation.updated_at.isoformat(),
        "version": annotation.version,
    }
