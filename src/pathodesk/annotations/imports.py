"""Annotation files into the platform (A7, A13): ASAP XML, QuPath GeoJSON, ImageScope XML.

Classes must belong to the slide's disease type. A file's own class names are first
translated by ``class_map`` (``Tumor:lung_aca,Normal:lung_n``: other tools name classes
their own way, in any language); regions without a class, or with one the type does not
know, then take ``default_label`` when given and are refused otherwise, naming the unknown
classes. One transaction: a file imports whole or not at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from shapely import affinity, make_valid
from shapely.errors import GEOSException
from shapely.geometry import Point, shape
from sqlalchemy.orm import Session

from pathodesk.annotations.formats import read_annotation_file
from pathodesk.annotations.geometry import SHAPES, point_disc, to_geojson
from pathodesk.annotations.store import SOURCES, Draft, create_many, label_colours
from pathodesk.db.models import Slide
from pathodesk.errors import ValidationFailedError

# one import is one transaction: 100,000 outlines took 31 s and 600 MB before this cap
MAX_IMPORT_REGIONS = 25_000


@dataclass(frozen=True)
class ImportResult:
    format: str
    created: int
    skipped: int  # shapes without area: rulers, degenerate outlines
    ids: list[int]


def parse_class_map(text: str | None) -> dict[str, str]:
    """``"Tumor:lung_aca,Normal:lung_n"`` -> {"Tumor": "lung_aca", "Normal": "lung_n"}."""
    mapping: dict[str, str] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        theirs, separator, ours = pair.rpartition(":")
        if not separator or not theirs.strip() or not ours.strip():
            raise ValidationFailedError(
                "class map entry %(value)r: write it as FILE_CLASS:OUR_CLASS", value=pair[:64]
            )
        mapping[theirs.strip()] = ours.strip()
    return mapping


def import_annotations(
    session: Session,
    slide: Slide,
    data: bytes,
    author_id: int | None,
    default_label: str | None = None,
    offset: tuple[float, float] = (0.0, 0.0),
    class_map: dict[str, str] | None = None,
) -> ImportResult:
    parsed = read_annotation_file(data)
    if len(parsed.regions) > MAX_IMPORT_REGIONS:
        raise ValidationFailedError(
            "the file holds %(count_regions)s outlines; one import takes at most %(max_import_regions)s"
            " (split the file, e.g. by region, and import the parts)",
            count_regions=format(len(parsed.regions), ","),
            max_import_regions=format(MAX_IMPORT_REGIONS, ","),
        )
    colours = label_colours(session, slide)
    mapped = class_map or {}
    unknown_targets = sorted(set(mapped.values()) - set(colours))
    if unknown_targets:
        raise ValidationFailedError(
            "class map names classes %(value)s that %(disease_type)r lacks",
            value=unknown_targets[:10],
            disease_type=slide.exam.disease_type,
        )
    regions = [replace(r, label=mapped.get(r.label, r.label)) if r.label else r for r in parsed.regions]
    unknown = sorted({r.label or "(none)" for r in regions if r.label not in colours})
    if unknown and default_label is None:
        raise ValidationFailedError(
            "classes %(value)s are not labels of %(disease_type)r (%(value2)s); map them"
            " (map=FILE_CLASS:OUR_CLASS,...) or pass label=<one of them> to import them all as it",
            value=unknown[:10],
            disease_type=slide.exam.disease_type,
            value2=sorted(colours),
        )
    drafts, degenerate = [], 0
    for region in regions:
        try:
            outline = shape(region.geometry)
            finite = not outline.is_empty and all(math.isfinite(v) for v in outline.bounds)
        except (ValueError, TypeError, AttributeError, IndexError, GEOSException) as exc:
            raise ValidationFailedError("geometry is not well-formed GeoJSON (%(exc)s)", exc=exc) from None
        except RecursionError:
            raise ValidationFailedError("geometry nested too deeply") from None
        if not finite:
            raise ValidationFailedError("geometry is empty or has coordinates that are not finite numbers")
        counted_cell = isinstance(outline, Point)
        if counted_cell:  # a file's dot: stored as the disc the point tool draws
            outline = point_disc(outline.x, outline.y, slide.mpp)
        elif make_valid(outline).area <= 0:
            degenerate += 1  # traced back and forth along a line: encloses nothing
            continue
        rewritten = any(offset) or counted_cell
        geometry = to_geojson(affinity.translate(outline, *offset)) if rewritten else region.geometry
        drafts.append(
            Draft(
                label=region.label if region.label in colours else str(default_label),
                geometry=geometry,
                shape=region.shape if region.shape in SHAPES else "polygon",
                source=region.source if region.source in SOURCES else "expert",
                probability=region.probability,
                properties=region.extra,
                name=region.name,
                comment=region.comment,
            )
        )
    # hand-drawn files often hold self-touching outlines: repair them the way QuPath does
    created = create_many(session, slide, drafts, author_id, repair=True)
    return ImportResult(parsed.format, len(created), parsed.skipped + degenerate, [a.id for a in created])
