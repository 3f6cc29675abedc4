"""Reading annotations back: by viewport through the spatial index (issue 4, item 6), and
as the features the API, the exports and the frozen review rounds share.

Reads select plain columns rather than ORM objects, and at low zoom the pre-simplified
outline instead of the full one: with ten thousand nuclei in view that is the difference
between a second and a few tenths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, false, func, literal, select, text
from sqlalchemy.orm import Session, aliased

from pathodesk.annotations.geometry import LOD_TOLERANCES
from pathodesk.db.models import Annotation, Slide, User


@dataclass(frozen=True)
class Viewport:
    """A level-0 rectangle; ``tolerance`` (level-0 px) allows a simplified outline,
    ``min_size`` drops what would be smaller than a screen pixel at the current zoom."""

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


def _outline_columns(tolerance: float) -> tuple[Any, Any]:
    """The lightest stored outline within ``tolerance``, and whether it is simplified."""
    lods = ((LOD_TOLERANCES[1], Annotation.geometry_lod8), (LOD_TOLERANCES[0], Annotation.geometry_lod2))
    for allowed, column in lods:
        if tolerance >= allowed:
            return func.coalesce(column, Annotation.geometry), column.is_not(None)
    return Annotation.geometry, literal(False)


def annotation_rows(
    session: Session,
    slide_id: int,
    view: Viewport | None = None,
    label: str | None = None,
    source: str | None = None,
) -> list[Any]:
    """Live annotations as rows with the attributes ``feature`` reads."""
    geometry, simplified = _outline_columns(view.tolerance if view else 0.0)
    editor = aliased(User)
    query = (
        select(
            Annotation.id,
            Annotation.slide_id,
            Annotation.label,
            Annotation.shape,
            Annotation.source,
            Annotation.probability,
            geometry.label("geometry"),
            simplified.label("simplified"),
            Annotation.min_x,
            Annotation.min_y,
            Annotation.max_x,
            Annotation.max_y,
            Annotation.area_px,
            Annotation.perimeter_px,
            User.account.label("author_account"),
            User.name.label("author_name"),
            editor.account.label("editor_account"),
            editor.name.label("editor_name"),
            Annotation.created_at,
            Annotation.updated_at,
            Annotation.version,
            Annotation.properties,
            Annotation.name,
            Annotation.comment,
            Annotation.origin_id,
        )
        .outerjoin(User, User.id == Annotation.author_id)
        .outerjoin(editor, editor.id == Annotation.edited_by_id)
        .where(Annotation.slide_id == slide_id, Annotation.deleted == false())
    )
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
    return list(session.execute(query.order_by(Annotation.id)))


def count_in_view(session: Session, slide_id: int, view: Viewport | None) -> int:
    """Live annotations of the slide in ``view``; all of them without one."""
    query = select(func.count(Annotation.id)).where(
        Annotation.slide_id == slide_id, Annotation.deleted == false()
    )
    return int(session.scalar(_in_view(session, query, view) if view else query) or 0)


def feature(annotation: Any, slide: Slide, colours: dict[str, str]) -> dict[str, Any]:
    """One annotation (ORM object or row) as the API and the review snapshot show it;
    µm from the slide's mpp."""
    mpp = slide.mpp
    return {
        "id": annotation.id,
        "slide_id": annotation.slide_id,
        "label": annotation.label,
        "color": colours.get(annotation.label, "#808080"),
        "shape": annotation.shape,
        "source": annotation.source,
        "probability": annotation.probability,
        "geometry": annotation.geometry,
        "simplified": bool(getattr(annotation, "simplified", False)),
        "bbox": [annotation.min_x, annotation.min_y, annotation.max_x, annotation.max_y],
        "area_px": annotation.area_px,
        "perimeter_px": annotation.perimeter_px,
        "area_um2": annotation.area_px * mpp * mpp if mpp else None,
        "perimeter_um": annotation.perimeter_px * mpp if mpp else None,
        "author": annotation.author_account,
        "author_name": annotation.author_name,  # as people read it (the account is the key)
        "edited_by": annotation.editor_account,  # who last changed it (None: unchanged)
        "edited_by_name": annotation.editor_name,
        "created_at": annotation.created_at.isoformat(),
        "updated_at": annotation.updated_at.isoformat(),
        "version": annotation.version,
        "properties": annotation.properties,
        "name": annotation.name,
        "origin_id": annotation.origin_id,  # a registered copy's annotation on the reference section
        "comment": annotation.comment,
    }
