"""The model registry over HTTP (issue 6, item 4): everyone signed in sees which model reads
their slides and how well it scored; only an administrator changes the active one."""

from __future__ import annotations

import zlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from pathodesk.audit import record_by
from pathodesk.config import Settings
from pathodesk.db.models import DiseaseType, TrainedModel
from pathodesk.errors import NotFoundError
from pathodesk.i18n import supported, translations
from pathodesk.ml import model_pictures
from pathodesk.ml.model_folder import PICTURES
from pathodesk.ml.registry import is_weak, model_path, set_active
from pathodesk.web.deps import AdminUser, CurrentUser, DbSession, RecordId, StateDep
from pathodesk.web.i18n import RequestLocale
from pathodesk.web.route_helpers import cached_image_response
from pathodesk.web.vocabulary import class_names, term

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
            for name in model_pictures.pictures(folder)
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
    model_id: RecordId,
    name: str,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    state: StateDep,
    locale: RequestLocale,
    lang: str | None = None,
) -> Response:
    """Training curves, the test confusion matrix or super-resolution examples; names come
    from a fixed set. Drawn in the reader's language (``lang``, else the request's), with
    classes by display name, wherever the model's log and card allow; else as stored."""
    model = _model(session, model_id)
    folder = model_path(state.settings, model)
    locale = supported(lang) or locale
    names = _class_names(session, model, locale)
    if name in PICTURES:
        drawn = _drawn(folder, model.sha256, name, locale, names)
        if drawn is not None:
            etag = f'"{model.sha256[:32]}-{name}-{locale}-{zlib.crc32(repr(names).encode()):08x}"'
            return cached_image_response(request, etag, lambda: drawn, "image/png")
    path = folder / name
    if name not in PICTURES or not path.is_file():
        raise NotFoundError("model %(model_id)s has no picture %(value)r", model_id=model_id, value=name[:64])
    return cached_image_response(request, f'"{model.sha256[:32]}-{name}"', path.read_bytes, "image/png")


def _class_names(session: DbSession, model: TrainedModel, locale: str) -> tuple[tuple[str, str], ...]:
    """Each of the model's classes with its display name: the one its disease type gives it,
    else PathoDesk's own, else the code."""
    labels = session.scalar(select(DiseaseType.labels).where(DiseaseType.name == model.disease_type))
    given = class_names([labels or []], locale)
    return tuple((code, given.get(code) or term(locale, "class", code)) for code in model.labels)


@lru_cache(maxsize=64)
def _drawn(
    folder: Path, sha256: str, name: str, locale: str, names: tuple[tuple[str, str], ...]
) -> bytes | None:
    """Drawing takes a few hundred milliseconds; a model's pictures never change for a given
    checksum, language and class names."""
    display = dict(names)
    return model_pictures.draw(
        folder, name, translations(locale).gettext, lambda code: display.get(code, code)
    )


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
