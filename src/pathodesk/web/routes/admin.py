"""Disease types (their label sets) and the audit log: administrator resources."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from pathodesk.analysis.params import params_from_record
from pathodesk.audit import record_by
from pathodesk.db.changes import apply_changes
from pathodesk.db.models import AuditEvent, DiseaseType
from pathodesk.errors import ConflictError, NotFoundError, ValidationFailedError
from pathodesk.ml.grades import disease_scale, scale_from_record
from pathodesk.web.deps import AdminUser, CurrentUser, DbSession

router = APIRouter(prefix="/api/v1", tags=["admin"])

Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
DisplayName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Label(BaseModel):
    # any language (肺腺癌 as well as lung_aca); not control characters, nor the separators of
    # the import class map (",", ":") and of paths ("/", "\\"), since heatmap files carry the name
    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f,:/\\]+$")
    color: Colour
    # what pages show for it in each language ({"en": "lymph node metastasis", "zh_CN": "淋巴结转移"})
    display: dict[Literal["en", "zh_CN"], DisplayName] | None = None


class AnalysisParamsBody(BaseModel):
    """How analysis turns tile probabilities into outlines for this type (A4–A5)."""

    background_labels: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(max_length=64)
    eps_tiles: float = Field(gt=0, le=20)  # DBSCAN neighbourhood, in tiles
    min_samples: int = Field(ge=1, le=1000)  # DBSCAN core points
    min_tiles: int = Field(ge=1, le=100_000)  # A5: smallest region kept
    min_mean_probability: float = Field(ge=0, le=1)  # A5: mean probability over the region
    max_std_probability: float = Field(ge=0, le=1)  # A5: spread of the probability


class GradeBody(BaseModel):
    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")
    bethesda: str | None = Field(default=None, max_length=8)


class GradingBody(BaseModel):
    """The cascade's grade scale (C1): coarse grades least severe first, fine labels onto them."""

    coarse: list[GradeBody] = Field(min_length=2, max_length=12)
    fine: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=32)]] = Field(
        max_length=64
    )


class DiseaseTypeCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")
    display_name: str = Field(min_length=1, max_length=128)
    labels: list[Label] = Field(min_length=1, max_length=64)


class DiseaseTypeUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=128)
    labels: list[Label] | None = Field(default=None, min_length=1, max_length=64)
    active: bool | None = None
    analysis_params: AnalysisParamsBody | None = None
    grading: GradingBody | None = None
    store_downsample: Literal[1, 2, 4, 8] | None = None  # E1: how its slides are kept by default


class DiseaseTypePublic(BaseModel):
    name: str
    display_name: str
    labels: list[Label]
    active: bool
    analysis_params: AnalysisParamsBody  # the stored ones, or those derived from the labels
    grading: GradingBody  # the stored scale, the shipped default, or benign/malignant
    store_downsample: int = 1


def to_public(disease_type: DiseaseType) -> DiseaseTypePublic:
    names = [label["name"] for label in disease_type.labels]
    params = params_from_record(disease_type.analysis_params, names)
    return DiseaseTypePublic(
        name=disease_type.name,
        display_name=disease_type.display_name,
        labels=[Label(**label) for label in disease_type.labels],
        active=disease_type.active,
        analysis_params=AnalysisParamsBody(**params.as_record()),
        grading=GradingBody(
            **disease_scale(
                disease_type.name, disease_type.grading, names, params.background_labels
            ).as_record()
        ),
        store_downsample=disease_type.store_downsample or 1,  # a new row has its default at insert
    )


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor_id: int | None
    actor_account: str | None
    action: str
    record_type: str
    record_id: str | None
    detail: dict[str, object]


@router.get("/disease-types")
def list_disease_types(user: CurrentUser, session: DbSession) -> list[DiseaseTypePublic]:
    return [to_public(d) for d in session.scalars(select(DiseaseType).order_by(DiseaseType.name))]


@router.post("/disease-types", status_code=201)
def create_disease_type(body: DiseaseTypeCreate, admin: AdminUser, session: DbSession) -> DiseaseTypePublic:
    if session.get(DiseaseType, body.name) is not None:
        raise ConflictError("disease type %(name)r already exists", name=body.name)
    disease_type = DiseaseType(
        name=body.name,
        display_name=body.display_name,
        labels=[label.model_dump(exclude_none=True) for label in body.labels],
        active=True,
    )
    session.add(disease_type)
    record_by(session, admin, "create", "disease_type", body.name)
    return to_public(disease_type)


@router.patch("/disease-types/{name}")
def update_disease_type(
    name: str, body: DiseaseTypeUpdate, admin: AdminUser, session: DbSession
) -> DiseaseTypePublic:
    disease_type = session.get(DiseaseType, name)
    if disease_type is None:
        raise NotFoundError("disease type %(name)r does not exist", name=name)
    changes = body.model_dump(exclude_unset=True)
    labels = [label["name"] for label in changes.get("labels") or disease_type.labels]
    background = (changes.get("analysis_params") or {}).get("background_labels", [])
    unknown = sorted(set(background) - set(labels))
    if unknown:
        raise ValidationFailedError(
            "background labels %(unknown)s are not labels of %(name)r (%(labels)s)",
            unknown=unknown,
            name=name,
            labels=labels,
        )
    if changes.get("grading"):
        scale = scale_from_record(changes["grading"])  # distinct grades holding every fine label
        stray = sorted(set(scale.fine) - set(labels))
        if stray:
            raise ValidationFailedError(
                "graded labels %(unknown)s are not labels of %(name)r (%(labels)s)",
                unknown=stray,
                name=name,
                labels=labels,
            )
    apply_changes(disease_type, changes)
    record_by(
        session,
        admin,
        "update",
        "disease_type",
        name,
        fields=sorted(changes),
    )
    return to_public(disease_type)


@router.get("/audit")
def audit_log(
    admin: AdminUser,
    session: DbSession,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    record_type: Annotated[str | None, Query(max_length=32)] = None,
    record_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditPublic]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    filters = {
        AuditEvent.actor_account: actor,
        AuditEvent.action: action,
        AuditEvent.record_type: record_type,
        AuditEvent.record_id: record_id,
    }
    for column, value in filters.items():
        if value:
            query = query.where(column == value)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at <= until)
    return [AuditPublic.model_validate(e) for e in session.scalars(query)]
