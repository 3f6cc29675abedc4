"""Saving annotations (A10): every write checks the version it was based on, leaves a
revision behind and moves the slide along its review workflow (A11).

A stale version is a 409, never a silent overwrite: the check happens in Python for a clear
message and again in the UPDATE itself (SQLAlchemy's version counter) for the race between
two requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shapely.geometry import shape
from sqlalchemy import case, select
from sqlalchemy import update as update_rows
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pathodesk.annotations import labels
from pathodesk.annotations.geometry import (
    LOD_TOLERANCES,
    SHAPES,
    Outline,
    level_of_detail,
    measure,
    parse_outline,
    to_geojson,
)
from pathodesk.db.models import (
    Annotation,
    AnnotationRevision,
    DiseaseType,
    Slide,
    SlideStatus,
    utcnow,
)
from pathodesk.errors import ConflictError, NotFoundError, ValidationFailedError

SOURCES = ("ai", "expert", "registered")  # registered: carried from a serial section (D1)


@dataclass(frozen=True)
class Draft:
    """What a client or a file asks to store; geometry not yet checked."""

    label: str
    geometry: dict[str, object]
    shape: str = "polygon"
    source: str = "expert"
    probability: float | None = None
    properties: dict[str, object] | None = None  # another tool's, kept verbatim (QuPath)
    name: str | None = None
    comment: str | None = None


def label_colours(session: Session, slide: Slide) -> dict[str, str]:
    """The slide's disease type's label set, name -> colour (A3)."""
    return labels.label_colours(session.get(DiseaseType, slide.exam.disease_type))


def check_label(label: str, colours: dict[str, str]) -> None:
    if label not in colours:
        raise ValidationFailedError(
            "class %(value)r is not in this disease type's labels: %(value2)s",
            value=label[:64],
            value2=sorted(colours),
        )


def _checked(slide: Slide, draft: Draft, colours: dict[str, str], repair: bool = False) -> Outline:
    check_label(draft.label, colours)
    if draft.shape not in SHAPES:
        raise ValidationFailedError("shape must be one of %(shapes)s", shapes=SHAPES)
    if draft.source not in SOURCES:
        raise ValidationFailedError("source must be one of %(sources)s", sources=SOURCES)
    if draft.probability is not None and not 0.0 <= draft.probability <= 1.0:
        raise ValidationFailedError("probability must lie between 0 and 1")
    repair = repair or draft.shape == "freehand"
    return parse_outline(draft.geometry, slide.width, slide.height, repair=repair)


def _place(annotation: Annotation, outline: Outline) -> None:
    measures = measure(outline)
    annotation.geometry = to_geojson(outline)
    annotation.geometry_lod2 = level_of_detail(outline, LOD_TOLERANCES[0])
    annotation.geometry_lod8 = level_of_detail(outline, LOD_TOLERANCES[1])
    annotation.min_x, annotation.min_y, annotation.max_x, annotation.max_y = measures.bounds
    annotation.area_px = measures.area_px
    annotation.perimeter_px = measures.perimeter_px
    annotation.vertex_count = measures.vertex_count


def _revision(annotation: Annotation, action: str, author_id: int | None) -> AnnotationRevision:
    return AnnotationRevision(
        annotation_id=annotation.id,
        version=annotation.version,
        action=action,
        label=annotation.label,
        shape=annotation.shape,
        source=annotation.source,
        probability=annotation.probability,
        geometry=annotation.geometry,
        deleted=annotation.deleted,
        author_id=author_id,
    )


def lock_slide(session: Session, slide: Slide) -> None:
    """Hold the slide's row (PostgreSQL) or the database (SQLite) until the commit, and read
    its status again. Every writer of a slide's annotations takes it before it looks at them
    (an edit, a sign-off, an analysis replacing its outlines, a copy carried from a serial
    section): each decides on what the others committed, and on PostgreSQL they lock rows in
    one order (slide, then annotations), so two of them never wait for each other."""
    locked = session.execute(
        update_rows(Slide)
        .where(Slide.id == slide.id)
        .values(review_round=Slide.review_round)  # a write that changes nothing takes the lock
        .execution_options(synchronize_session=False)
    )
    if not locked.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError("slide %(slide_id)s was deleted meanwhile", slide_id=slide.id)
    session.refresh(slide, ["status", "review_round"])


def note_edit(session: Session, slide: Slide, source: str) -> None:
    """Move the workflow on: AI output makes a slide analyzed, an expert's edit puts it in
    review, and an edit after sign-off opens a new round (the signed one stays frozen).

    One UPDATE computed from the row as it is when it runs, not as this session read it: an
    edit saved just after another expert signed the round off opens the next round, instead
    of reopening the signed one (whose number the next sign-off could then never take)."""
    signed = Slide.status == SlideStatus.reviewed
    if source == "expert":
        status: object = SlideStatus.in_review
    else:
        status = case(
            (signed, SlideStatus.in_review),
            (Slide.status == SlideStatus.uploaded, SlideStatus.analyzed),
            else_=Slide.status,
        )
    session.execute(
        update_rows(Slide)
        .where(Slide.id == slide.id)
        .values(status=status, review_round=Slide.review_round + case((signed, 1), else_=0))
        .execution_options(synchronize_session=False)
    )
    session.refresh(slide, ["status", "review_round"])


def note_analysed(session: Session, slide: Slide) -> None:
    """An analysis that found nothing still moves an uploaded slide to analyzed (issue 21)."""
    session.execute(
        update_rows(Slide)
        .where(Slide.id == slide.id, Slide.status == SlideStatus.uploaded)
        .values(status=SlideStatus.analyzed)
        .execution_options(synchronize_session=False)
    )
    session.refresh(slide, ["status"])


def create_many(
    session: Session, slide: Slide, drafts: Iterable[Draft], author_id: int | None, repair: bool = False
) -> list[Annotation]:
    """All or nothing: one bad outline rejects the whole batch (nothing half-imported)."""
    colours = label_colours(session, slide)
    created = []
    for index, draft in enumerate(drafts):
        try:
            outline = _checked(slide, draft, colours, repair)
        except ValidationFailedError as exc:
            raise ValidationFailedError(
                "annotation %(index)s: %(problem)s", index=index, problem=exc.detail
            ) from None
        annotation = Annotation(
            slide_id=slide.id,
            label=draft.label,
            shape=draft.shape,
            source=draft.source,
            probability=draft.probability,
            author_id=author_id,
            properties=draft.properties,
            name=draft.name,
            comment=draft.comment,
        )
        _place(annotation, outline)
        created.append(annotation)
    if not created:
        return created
    note_edit(session, slide, "expert" if any(a.source == "expert" for a in created) else "ai")
    session.add_all(created)
    session.flush()
    session.add_all(_revision(a, "create", author_id) for a in created)
    return created


@contextmanager
def _versioned(
    session: Session, slide: Slide, annotation: Annotation, expected_version: int | None
) -> Iterator[None]:
    """The slide locked and the annotation read again first, so that the version check sees
    what another writer committed meanwhile (``None``: no version to check)."""
    lock_slide(session, slide)
    session.refresh(annotation)
    annotation_id = annotation.id  # a failed flush expires the object: keep what the message needs
    if expected_version is not None and annotation.version != expected_version:
        raise ConflictError(
            "annotation %(annotation_id)s is at version %(version)s, not %(expected_version)s:"
            " someone else saved it meanwhile; reload to see their change",
            annotation_id=annotation_id,
            version=annotation.version,
            expected_version=expected_version,
        )
    try:
        yield
    except StaleDataError:
        raise ConflictError(
            "annotation %(annotation_id)s was saved by someone else at the same moment",
            annotation_id=annotation_id,
        ) from None


def update(
    session: Session,
    slide: Slide,
    annotation: Annotation,
    expected_version: int,
    changes: dict[str, object],
    author_id: int | None,
) -> Annotation:
    """Change label, outline, shape, probability, name or comment. An AI outline an expert
    changes keeps its source and author (the AI) and records who edited it: the list tells
    corrected regions apart, and a new analysis never replaces them."""
    with _versioned(session, slide, annotation, expected_version):
        draft = Draft(
            label=str(changes.get("label", annotation.label)),
            geometry=changes.get("geometry", annotation.geometry),  # type: ignore[arg-type]
            shape=str(changes.get("shape", annotation.shape)),
            source=str(changes.get("source", annotation.source)),
            probability=changes.get("probability", annotation.probability),  # type: ignore[arg-type]
        )
        outline = _checked(slide, draft, label_colours(session, slide))
        annotation.label, annotation.shape = draft.label, draft.shape
        annotation.source, annotation.probability = draft.source, draft.probability
        _place(annotation, outline)
        for field in ("name", "comment"):
            if field in changes:
                setattr(annotation, field, changes[field])
        annotation.updated_at = utcnow()
        annotation.edited_by_id = author_id  # "edited by" beside the author (a corrected AI outline)
        note_edit(session, slide, "expert")
        session.flush()
    session.add(_revision(annotation, "update", author_id))
    return annotation


def delete(
    session: Session,
    slide: Slide,
    annotation: Annotation,
    expected_version: int,
    author_id: int | None,
    by: str = "expert",
) -> None:
    """``by="ai"``: a new analysis replacing its own earlier outlines, not an expert's edit."""
    with _versioned(session, slide, annotation, expected_version):
        annotation.deleted = True
        annotation.updated_at = utcnow()
        note_edit(session, slide, by)
        session.flush()
    session.add(_revision(annotation, "delete", author_id))


def revisions(session: Session, annotation_id: int) -> list[AnnotationRevision]:
    query = select(AnnotationRevision).where(AnnotationRevision.annotation_id == annotation_id)
    return list(session.scalars(query.order_by(AnnotationRevision.id)))


def restore(
    session: Session, slide: Slide, annotation: Annotation, revision_version: int, author_id: int | None
) -> Annotation:
    """Bring back the state saved as ``revision_version`` (deleted ones come back too). An
    expert's choice: a new analysis does not replace what was restored."""
    with _versioned(session, slide, annotation, None):
        earlier = next((r for r in revisions(session, annotation.id) if r.version == revision_version), None)
        if earlier is None or earlier.deleted:
            raise NotFoundError(
                "annotation %(id)s has no restorable version %(revision_version)s",
                id=annotation.id,
                revision_version=revision_version,
            )
        annotation.label, annotation.shape, annotation.source = earlier.label, earlier.shape, earlier.source
        annotation.probability = earlier.probability
        _place(annotation, shape(earlier.geometry))
        annotation.deleted = False
        annotation.updated_at = utcnow()
        annotation.edited_by_id = author_id
        note_edit(session, slide, "expert")
        session.flush()
    session.add(_revision(annotation, "restore", author_id))
    return annotation
