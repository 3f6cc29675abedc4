"""Annotation files into the platform (A7, A13): ASAP XML, QuPath GeoJSON, ImageScope XML.

Classes must belong to the slide's disease type; regions without a class, or with one the
type does not know, take ``default_label`` when given and are refused otherwise, naming
the unknown classes. One transaction: a file imports whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapely import affinity, make_valid
from shapely.geometry import shape
from sqlalchemy.orm import Session

from pathodesk.annotations.formats import read_annotation_file
from pathodesk.annotations.geometry import SHAPES, to_geojson
from pathodesk.annotations.store import SOURCES, Draft, create_many, label_colours
from pathodesk.db.models import Slide
from pathodesk.errors import ValidationFailedError


@dataclass(frozen=True)
class ImportResult:
    format: str
    created: int
    skipped: int  # shapes without area: dots, rulers, degenerate outlines
    ids: list[int]


def import_annotations(
    session: Session,
    slide: Slide,
    data: bytes,
    author_id: int | None,
    default_label: str | None = None,
    offset: tuple[float, float] = (0.0, 0.0),
) -> ImportResult:
    parsed = read_annotation_file(data)
    colours = label_colours(session, slide)
    unknown = sorted({r.label or "(none)" for r in parsed.regions if r.label not in colours})
    if unknown and default_label is None:
        raise ValidationFailedError(
            f"classes {unknown[:10]} are not labels of {slide.exam.disease_type!r} ({sorted(colours)}); "
            "pass label=<one of them> to import them under that class"
        )
    drafts, degenerate = [], 0
    for region in parsed.regions:
        try:
            outline = shape(region.geometry)
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise ValidationFailedError(f"geometry is not well-formed GeoJSON ({exc})") from None
        if make_valid(outline).area <= 0:
            degenerate += 1  # traced back and forth along a line: encloses nothing
            continue
        geometry = to_geojson(affinity.translate(outline, *offset)) if any(offset) else region.geometry
        drafts.append(
            Draft(
                label=region.label if region.label in colours else str(default_label),
                geometry=geometry,
                shape=region.shape if region.shape in SHAPES else "polygon",
                source=region.source if region.source in SOURCES else "expert",
                probability=region.probability,
            )
        )
    # hand-drawn files often hold self-touching outlines: repair them the way QuPath does
    created = create_many(session, slide, drafts, author_id, repair=True)
    return ImportResult(parsed.format, len(created), parsed.skipped + degenerate, [a.id for a in created])
