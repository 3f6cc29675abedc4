"""The model registry over HTTP (issue 6, item 4): everyone signed in sees which model reads
their slides and how well it scored; only an administrator changes the active one."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from pathodesk.audit import record_by
from pathodesk.config import Settings
from pathodesk.db.models import TrainedModel
from pathodesk.errors import NotFoundError
from pathodesk.ml.model_folder import PICTURES
from pathodesk.ml.registry import is_weak, model_path, set_active
from pathodesk.web.deps import AdminUser, CurrentUser, DbSession, RecordId, StateDep
from pathodesk.web.route_helpers import cached_image_response

router = APIRouter(prefix="/api/v1", tags=["models"])


class ModelPublic(BaseModel):
    id: int
    disease_type: str
    role: str  # tile | coarse | fine | fusion | superres (one active per type and role)
    version: int
    arch: str
    labels: list[str]
    active: bool
    source: str
    created_at: datetime
    metrics: dict[str, object] | None
    pictures: dict[str, str]  # name -> URL
    card: dict[str, object]  # data, splits, input spec, training settings, notes
    weak: bool  # unscored, or balanced accuracy below registry.WEAK_BELOW: shown with a warning


def to_public(settings: Settings, model: TrainedModel) -> ModelPublic:
    folder = model_path(settings, model)
    return ModelPublic(
        id=model.id,
        disease_type=model.disease_type,
        role=model.role,
        version=model.version,
        arch=model.arch,
        labels=model.labels,
        active=model.active,
        source=model.source,
        created_at=model.created_at,
        metrics=model.metrics,
        card=model.card,
        weak=is_weak(model.metrics, model.role),
        pictures={
            name.removesuffix(".png"): f"/api/v1/models/{model.id}/{name}"
            for name in PICTURES
            if (folder / name).is_file()
        },
    )


def list_models(session: DbSession, disease_type: str | None = None) -> list[TrainedModel]:
    query = select(TrainedModel).order_by(
        TrainedModel.disease_type, TrainedModel.role, TrainedModel.version.desc()
    )
    if disease_type:
        query = query.where(TrainedModel.disease_type == disease_type)
    return list(session.scalars(query))


def _model(session: DbSession, model_id: int) -> TrainedModel:
    model = session.get(TrainedModel, model_id)
    if model is None:
        raise NotFoundError("model %(model_id)s does not exist", model_id=model_id)
    return model


@router.get("/models")
def read_models(
    user: CurrentUser, session: DbSession, state: StateDep, disease_type: str | None = None
) -> list[ModelPublic]:
    return [to_public(state.settings, m) for m in list_models(session, disease_type)]


@router.get("/models/{model_id}")
def read_model(model_id: RecordId, user: CurrentUser, session: DbSession, state: StateDep) -> ModelPublic:
    return to_public(state.settings, _model(session, model_id))


@router.get("/models/{model_id}/{name}", response_class=Response)
def model_picture(
    model_id: RecordId, name: str, request: Request, user: CurrentUser, session: DbSession, state: StateDep
) -> Response:
    """Training curves or the test confusion matrix; names come from a fixed set."""
    model = _model(session, model_id)
    path = model_path(state.settings, model) / name
    if name not in PICTURES or not path.is_file():
        raise NotFoundError("model %(model_id)s has no picture %(value)r", model_id=model_id, value=name[:64])
    return cached_image_response(request, f'"{model.sha256[:32]}-{name}"', path.read_bytes, "image/png")


@router.post("/models/{model_id}/activate")
def activate_model(model_id: RecordId, user: AdminUser, session: DbSession, state: StateDep) -> ModelPublic:
    model = _model(session, model_id)
    set_active(session, model)
    record_by(
        session,
        user,
        "activate",
        "model",
        model.id,
        disease_type=model.disease_type,
        role=model.role,
        version=model.version,
    )
    return to_public(state.settings, model)
