"""Serial sections of one exam (SPEC D1; issue 15, items 1 and 5): the newest transform of
each slide onto its group's reference, and annotations drawn on the reference carried onto
every other section (source ``registered``, linked to their origin).

A carried copy follows its origin (moved, relabelled, deleted) until an expert corrects it;
from then on the correction is theirs and is left alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from shapely.geometry import shape
from shapely.ops import unary_union
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathodesk.annotations import store
from pathodesk.db.models import Annotation, SectionGroup, Slide, SlideTransform
from pathodesk.registration import Transform

REGISTERED = "registered"


def group_of_reference(session: Session, slide_id: int) -> SectionGroup | None:
    return session.scalars(select(SectionGroup).where(SectionGroup.reference_slide_id == slide_id)).first()


def newest_transform(session: Session, slide_id: int, reference_slide_id: int) -> SlideTransform | None:
    return session.scalars(
        select(SlideTransform)
        .where(SlideTransform.slide_id == slide_id, SlideTransform.reference_slide_id == reference_slide_id)
        .order_by(SlideTransform.version.desc())
    ).first()


def lesion_box(session: Session, reference_slide_id: int) -> tuple[float, float, float, float] | None:
    """Bounds (x0, y0, x1, y1, level-0 px) of the outlines drawn on the reference — the lesion
    the pathologist reads across the stains — or None when nothing is drawn."""
    shapes = [
        shape(annotation.geometry)
        for annotation in session.scalars(
            select(Annotation).where(
                Annotation.slide_id == reference_slide_id,
                Annotation.deleted.is_(False),
                Annotation.source != REGISTERED,
            )
        )
        if annotation.geometry.get("type") in ("Polygon", "MultiPolygon")
    ]
    if not shapes:
        return None
    x0, y0, x1, y1 = unary_union(shapes).bounds
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def warped_geometry(geometry: dict[str, Any], transform: Transform) -> dict[str, Any]:
    """A GeoJSON geometry in the reference's level-0 px, in the other slide's level-0 px."""

    def ring(points: list[list[float]]) -> list[list[float]]:
        moved = transform.fixed_to_moving(np.asarray(points, dtype=np.float64))
        return [[round(float(x), 2), round(float(y), 2)] for x, y in moved]

    kind, coordinates = geometry["type"], geometry["coordinates"]
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": [ring(part) for part in coordinates]}
    if kind == "MultiPolygon":
        return {
            "type": "MultiPolygon",
            "coordinates": [[ring(part) for part in polygon] for polygon in coordinates],
        }
    raise ValueError(f"cannot carry a {kind}")


def _copies(session: Session, origin_id: int) -> list[Annotation]:
    return list(
        session.scalars(
            select(Annotation)
            .where(Annotation.origin_id == origin_id, Annotation.deleted.is_(False))
            .execution_options(populate_existing=True)  # as committed, after the slide's lock
        )
    )


def carry(
    session: Session, origin: Annotation, slide: Slide, transform: SlideTransform, author_id: int | None
) -> Annotation | None:
    """The origin's copy on ``slide`` made current: created, or replaced if nobody corrected
    it; a corrected copy is kept as the expert left it (returns None then)."""
    if origin.geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return None
    store.lock_slide(session, slide)  # a correction saved meanwhile is seen, and kept
    existing = [copy for copy in _copies(session, origin.id) if copy.slide_id == slide.id]
    if any(copy.edited_by_id is not None for copy in existing):
        return None
    for copy in existing:
        store.delete(session, slide, copy, copy.version, author_id, by=REGISTERED)
    shape = "polygon"  # a warped rectangle or ellipse is a polygon
    draft = store.Draft(
        origin.label,
        warped_geometry(origin.geometry, Transform.from_bytes(transform.data)),
        shape,
        REGISTERED,
        origin.probability,
        properties={
            "registered_from": {
                "slide_id": origin.slide_id,
                "annotation_id": origin.id,
                "transform_version": transform.version,
            }
        },
        name=origin.name,
        comment=origin.comment,
    )
    (copy,) = store.create_many(session, slide, [draft], origin.author_id, repair=True)
    copy.origin_id = origin.id
    return copy


def carry_all(session: Session, group: SectionGroup, author_id: int | None) -> dict[int, int]:
    """Every annotation of the reference onto every registered member; copies per slide."""
    origins = list(
        session.scalars(
            select(Annotation).where(
                Annotation.slide_id == group.reference_slide_id,
                Annotation.deleted.is_(False),
                Annotation.source != REGISTERED,
            )
        )
    )
    carried: dict[int, int] = {}
    for member in group.members:
        if member.slide_id == group.reference_slide_id:
            continue
        transform = newest_transform(session, member.slide_id, group.reference_slide_id)
        if transform is None:
            continue
        carried[member.slide_id] = sum(
            carry(session, origin, member.slide, transform, author_id) is not None for origin in origins
        )
    return carried


def propagate(session: Session, annotation: Annotation, author_id: int | None) -> None:
    """After an annotation on a group's reference was created, changed or deleted: its
    copies follow (unless corrected). Called by the annotation routes."""
    if annotation.source == REGISTERED:
        return
    group = group_of_reference(session, annotation.slide_id)
    if group is None:
        return
    if annotation.deleted:
        for copy in _copies(session, annotation.id):
            slide = session.get(Slide, copy.slide_id)
            if slide is None:
                continue
            store.lock_slide(session, slide)  # then read again: corrected meanwhile, it stays
            session.refresh(copy)
            if copy.edited_by_id is None and not copy.deleted:
                store.delete(session, slide, copy, copy.version, author_id, by=REGISTERED)
        return
    for member in group.members:
        if member.slide_id == group.reference_slide_id:
            continue
        transform = newest_transform(session, member.slide_id, group.reference_slide_id)
        if transform is not None:
            carry(session, annotation, member.slide, transform, author_id)
