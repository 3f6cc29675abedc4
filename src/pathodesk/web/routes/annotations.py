"""Annotations over HTTP (issue 4; SPEC A7–A11, A13; routes in API.md).

Everyone who may see a slide may read, draw and review its annotations; writes carry the
version they were based on (409 when stale). Reads by viewport go through the spatial index.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from pathodesk.analysis.sections import propagate
from pathodesk.annotations import store
from pathodesk.annotations.export import render, reviewed_zip
from pathodesk.annotations.formats import MAX_FILE_BYTES
from pathodesk.annotations.imports import import_annotations, parse_class_map
from pathodesk.annotations.measurements import measurements_csv
from pathodesk.annotations.query import Viewport, annotation_rows, count_in_view, feature
from pathodesk.annotations.review import describe_round, review_round, review_rounds, submit_review
from pathodesk.audit import record_by
from pathodesk.db.models import Annotation, Slide, Verdict
from pathodesk.errors import PayloadTooLargeError, ValidationFailedError
from pathodesk.web.deps import AdminUser, CurrentUser, DbSession, IdValue, RecordId, StateDep
from pathodesk.web.route_helpers import visible_annotation, visible_slide
from pathodesk.web.state import Principal

router = APIRouter(prefix="/api/v1", tags=["annotations"])

Shape = Literal["polygon", "rectangle", "ellipse", "freehand", "point"]  # as annotations.geometry.SHAPES
Source = Literal["ai", "expert"]  # what a client may create
SourceFilter = Literal["ai", "expert", "registered"]  # registered: carried from the reference section
Coordinate = Annotated[float, Query(ge=-1e9, le=1e9)]
LabelName = Annotated[str, Field(min_length=1, max_length=64)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


Name = Annotated[str, Field(max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")]
Comment = Annotated[str, Field(max_length=20000)]


class AnnotationCreate(BaseModel):
    label: LabelName
    geometry: dict[str, Any]  # GeoJSON Polygon / MultiPolygon in level-0 pixels
    shape: Shape = "polygon"
    source: Source = "expert"
    probability: Probability | None = None
    name: Name | None = None
    comment: Comment | None = None


class AnnotationUpdate(BaseModel):
    version: IdValue
    label: LabelName | None = None
    geometry: dict[str, Any] | None = None
    shape: Shape | None = None
    probability: Probability | None = None
    name: Name | None = None  # null clears it
    comment: Comment | None = None


class RestoreRequest(BaseModel):
    version: IdValue


class ReviewRequest(BaseModel):
    verdict: Verdict
    opinion: str = Field(min_length=1, max_length=20_000)


def json_response(body: object, status_code: int = 200) -> Response:
    """Plain json.dumps: ten thousand features do not need a pydantic model each."""
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status_code, media_type="application/json"
    )


def _feature(session: DbSession, slide: Slide, annotation: Annotation) -> dict[str, Any]:
    return feature(annotation, slide, store.label_colours(session, slide))


@router.get("/slides/{slide_id}/annotations")
def list_annotations(
    slide_id: RecordId,
    user: CurrentUser,
    session: DbSession,
    x0: Coordinate | None = None,
    y0: Coordinate | None = None,
    x1: Coordinate | None = None,
    y1: Coordinate | None = None,
    tolerance: Annotated[float, Query(ge=0, le=1e6, description="simplify by this many level-0 px")] = 0.0,
    min_size: Annotated[float, Query(ge=0, le=1e6, description="drop outlines smaller than this")] = 0.0,
    label: Annotated[str | None, Query(max_length=64)] = None,
    source: SourceFilter | None = None,
    round: Annotated[int | None, Query(ge=1, le=1_000_000, description="a reviewed round")] = None,
) -> Response:
    """The slide's live annotations, or a frozen reviewed round; x0..y1 limit to a viewport."""
    slide = visible_slide(session, user, slide_id)
    body: dict[str, Any] = {"slide_id": slide.id, "status": slide.status.value, "round": slide.review_round}
    if round is not None:
        frozen = review_round(session, slide.id, round)
        body.update(round=round, frozen=True, annotations=frozen.annotations, omitted=0)
        return json_response(body)
    corners = (x0, y0, x1, y1)
    view = None
    if any(c is not None for c in corners):
        if any(c is None for c in corners) or x1 <= x0 or y1 <= y0:  # type: ignore[operator]
            raise ValidationFailedError("a viewport needs x0 < x1 and y0 < y1, all four")
        view = Viewport(x0, y0, x1, y1, tolerance, min_size)  # type: ignore[arg-type]
    found = annotation_rows(session, slide.id, view, label, source)
    colours = store.label_colours(session, slide)
    omitted = (
        count_in_view(session, slide.id, view) - len(found)
        if view and min_size and not (label or source)
        else 0
    )
    body.update(
        frozen=False,
        labels=colours,
        annotations=[feature(a, slide, colours) for a in found],
        omitted=omitted,
        total=count_in_view(session, slide.id, None),  # on the whole slide, for "n of N"
    )
    return json_response(body)


@router.post("/slides/{slide_id}/annotations", status_code=201)
def create_annotation(
    slide_id: RecordId, body: AnnotationCreate, user: CurrentUser, session: DbSession
) -> Response:
    slide = visible_slide(session, user, slide_id)
    draft = store.Draft(
        body.label,
        body.geometry,
        body.shape,
        body.source,
        body.probability,
        name=body.name,
        comment=body.comment,
    )
    (annotation,) = store.create_many(session, slide, [draft], user.user_id)
    record_by(session, user, "create", "annotation", annotation.id, slide_id=slide.id)
    propagate(session, annotation, user.user_id)
    return json_response(_feature(session, slide, annotation), 201)


@router.get("/annotations/{annotation_id}")
def read_annotation(annotation_id: RecordId, user: CurrentUser, session: DbSession) -> Response:
    annotation, slide = visible_annotation(session, user, annotation_id)
    return json_response(_feature(session, slide, annotation))


@router.patch("/annotations/{annotation_id}")
def update_annotation(
    annotation_id: RecordId, body: AnnotationUpdate, user: CurrentUser, session: DbSession
) -> Response:
    annotation, slide = visible_annotation(session, user, annotation_id)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    store.update(session, slide, annotation, body.version, changes, user.user_id)
    record_by(session, user, "update", "annotation", annotation.id, fields=sorted(changes))
    propagate(session, annotation, user.user_id)
    return json_response(_feature(session, slide, annotation))


@router.delete("/annotations/{annotation_id}", status_code=204)
def delete_annotation(
    annotation_id: RecordId,
    user: CurrentUser,
    session: DbSession,
    version: Annotated[int, Query(ge=1, le=2**31, description="the version being deleted")],
) -> Response:
    annotation, slide = visible_annotation(session, user, annotation_id)
    store.delete(session, slide, annotation, version, user.user_id)
    record_by(session, user, "delete", "annotation", annotation.id, slide_id=slide.id)
    propagate(session, annotation, user.user_id)
    return Response(status_code=204)


@router.get("/annotations/{annotation_id}/revisions")
def annotation_revisions(annotation_id: RecordId, user: CurrentUser, session: DbSession) -> Response:
    visible_annotation(session, user, annotation_id, live=False)
    return json_response(
        [
            {
                "version": r.version,
                "action": r.action,
                "label": r.label,
                "shape": r.shape,
                "deleted": r.deleted,
                "geometry": r.geometry,
                "at": r.at.isoformat(),
            }
            for r in store.revisions(session, annotation_id)
        ]
    )


@router.post("/annotations/{annotation_id}/restore")
def restore_annotation(
    annotation_id: RecordId, body: RestoreRequest, user: CurrentUser, session: DbSession
) -> Response:
    """Bring back an earlier revision, also of a deleted annotation."""
    annotation, slide = visible_annotation(session, user, annotation_id, live=False)
    store.restore(session, slide, annotation, body.version, user.user_id)
    record_by(session, user, "restore", "annotation", annotation_id, version=body.version)
    propagate(session, annotation, user.user_id)
    return json_response(_feature(session, slide, annotation))


def _export(
    session: DbSession, user: Principal, slide_id: int, kind: str, round_number: int | None
) -> Response:
    slide = visible_slide(session, user, slide_id)
    colours = store.label_colours(session, slide)
    if round_number is None:
        features = [feature(a, slide, colours) for a in annotation_rows(session, slide.id)]
    else:
        features = review_round(session, slide.id, round_number).annotations
    body = measurements_csv(features, slide.mpp) if kind == "csv" else render(kind, features, colours)
    media = {"xml": "application/xml", "geojson": "application/geo+json", "csv": "text/csv; charset=utf-8"}[
        kind
    ]
    suffix = f"-round-{round_number}" if round_number else ""
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="slide-{slide.id}{suffix}.{kind}"'},
    )


RoundQuery = Annotated[int | None, Query(ge=1, le=1_000_000, description="a reviewed round")]


@router.get("/slides/{slide_id}/annotations.xml", response_class=Response)
def export_asap_xml(
    slide_id: RecordId, user: CurrentUser, session: DbSession, round: RoundQuery = None
) -> Response:
    """ASAP XML (A7), as ASAP and the CAMELYON data write it."""
    return _export(session, user, slide_id, "xml", round)


@router.get("/slides/{slide_id}/annotations.geojson", response_class=Response)
def export_geojson(
    slide_id: RecordId, user: CurrentUser, session: DbSession, round: RoundQuery = None
) -> Response:
    """QuPath GeoJSON."""
    return _export(session, user, slide_id, "geojson", round)


@router.get("/slides/{slide_id}/annotations.csv", response_class=Response)
def export_measurements(
    slide_id: RecordId, user: CurrentUser, session: DbSession, round: RoundQuery = None
) -> Response:
    """Each outline's measurements (area, perimeter, largest dimension, in px and µm) and
    each counted cell's place, one row each, for a spreadsheet."""
    return _export(session, user, slide_id, "csv", round)


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise PayloadTooLargeError(
                "annotation files are limited to %(value)s MiB", value=MAX_FILE_BYTES // 2**20
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/slides/{slide_id}/annotations/import",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "application/geo+json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def import_file(
    slide_id: RecordId,
    request: Request,
    user: CurrentUser,
    state: StateDep,
    label: Annotated[str | None, Query(max_length=64, description="class for unlabelled regions")] = None,
    offset_x: Coordinate = 0.0,
    offset_y: Coordinate = 0.0,
    map: Annotated[
        str | None, Query(max_length=4096, description="file class to ours: Tumor:lung_aca,Normal:lung_n")
    ] = None,
) -> Response:
    """ASAP XML, QuPath GeoJSON or Aperio ImageScope XML as the request body; all or nothing."""
    data = await _read_body(request)
    mapping = parse_class_map(map)

    def store_file() -> dict[str, Any]:
        with state.db.session() as session:
            slide = visible_slide(session, user, slide_id)
            result = import_annotations(
                session, slide, data, user.user_id, label, (offset_x, offset_y), class_map=mapping
            )
            record_by(session, user, "import", "annotation", None, slide_id=slide.id, count=result.created)
            return {"format": result.format, "created": result.created, "skipped": result.skipped}

    return json_response(await anyio.to_thread.run_sync(store_file), 201)


def _review_state(session: DbSession, slide: Slide) -> dict[str, Any]:
    return {
        "slide_id": slide.id,
        "status": slide.status.value,
        "round": slide.review_round,
        "rounds": [describe_round(r) for r in review_rounds(session, slide.id)],
    }


@router.get("/slides/{slide_id}/review")
def read_review(slide_id: RecordId, user: CurrentUser, session: DbSession) -> Response:
    return json_response(_review_state(session, visible_slide(session, user, slide_id)))


@router.put("/slides/{slide_id}/review")
def put_review(slide_id: RecordId, body: ReviewRequest, user: CurrentUser, session: DbSession) -> Response:
    """A11: verdict and diagnostic opinion; the round's annotations are frozen with them."""
    slide = visible_slide(session, user, slide_id)
    review = submit_review(session, slide, body.verdict, body.opinion, user.user_id)
    record_by(session, user, "review", "slide", slide.id, round=review.round, verdict=body.verdict.value)
    return json_response(_review_state(session, slide))


@router.get("/exports/reviewed-annotations.zip", response_class=Response)
def download_reviewed(user: AdminUser, session: DbSession) -> Response:
    """A13: every reviewed slide's latest round as ASAP XML + GeoJSON, one zip."""
    record_by(session, user, "export", "annotation", None, kind="reviewed-zip")
    return Response(
        reviewed_zip(session),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="reviewed-annotations.zip"'},
    )
