"""Model registry (SPEC A3): versioned models per disease type, each with its card, curves
and metrics; one active model per disease type and role (``db.models.MODEL_ROLES``: the
tile classifier, the cascade's coarse and fine graders, fusion, super-resolution), and a
slide's disease type picks it.

Files live under ``settings.models_dir / <type> / v<version>-<random>``; rows in the ``models``
table. A registration copies the run's folder under a temporary name and renames it, then
commits the row: a crash leaves at worst an unreferenced folder, never a row without files.
Models shipped with PathoDesk (``pathodesk/shipped_models``) are registered in every new
data directory and activated where the type has no active model yet.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pathodesk.config import Settings
from pathodesk.db.locks import take_lock
from pathodesk.db.models import MODEL_ROLES, DiseaseType, TrainedModel
from pathodesk.errors import NotFoundError, ValidationFailedError
from pathodesk.lifetime import freeze_new_modules
from pathodesk.ml.grades import disease_scale
from pathodesk.ml.model_folder import MODEL_FILE, RUN_FILES, read_card
from pathodesk.ml.superres_arch import superres_scale
from pathodesk.storage import file_sha256

if TYPE_CHECKING:  # loading weights needs torch, opening the database does not
    from pathodesk.ml.model_file import LoadedModel
    from pathodesk.ml.superres_model import LoadedSuperRes

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "shipped_models"
GENERAL_TYPE = "unclassified"  # a super-resolution model here enlarges every type without its own
WEAK_BELOW = 0.8  # balanced accuracy on the test split under which a model is flagged as weak


def is_weak(metrics: dict[str, Any] | None, role: str = "tile") -> bool:
    """Flag a model people should not lean on: never scored, or balanced accuracy below 0.8;
    a super-resolution model, one whose test PSNR does not beat bicubic enlargement."""
    metrics = metrics or {}
    if role == "superres":
        psnr, bicubic = metrics.get("psnr"), metrics.get("bicubic_psnr")
        return not (isinstance(psnr, int | float) and isinstance(bicubic, int | float)) or psnr <= bicubic
    value = metrics.get("balanced_accuracy")
    return not isinstance(value, int | float) or value < WEAK_BELOW


def register(
    session: Session,
    settings: Settings,
    run_dir: Path,
    disease_type: str,
    *,
    source: str = "trained",
    user_id: int | None = None,
    activate: bool = False,
    role: str | None = None,
) -> TrainedModel:
    """Copy a training run into the registry as the next version of ``disease_type``, in
    ``role`` (default: the card's, else ``tile``)."""
    card = read_card(run_dir)
    role = role or str(card.get("role") or "tile")
    if role not in MODEL_ROLES:
        raise ValidationFailedError(
            "model role %(role)r is not one of %(value)s", role=role, value=", ".join(MODEL_ROLES)
        )
    kind = session.get(DiseaseType, disease_type)
    if kind is None:
        raise NotFoundError("disease type %(disease_type)r does not exist", disease_type=disease_type)
    labels = [str(label) for label in card.get("labels", [])]  # type: ignore[attr-defined]
    known = {label["name"] for label in kind.labels}
    if role == "coarse":  # a coarse model grades on the type's scale (C1), not in its labels
        known = set(disease_scale(kind.name, kind.grading).names)
    if known and not set(labels) <= known:
        missing = sorted(set(labels) - known)
        raise ValidationFailedError(
            "model classes %(missing)s are not labels of disease type %(disease_type)r (%(value)s)",
            missing=missing,
            disease_type=disease_type,
            value=sorted(known),
        )
    take_lock(session, f"model-versions:{disease_type}")  # two runs registered at once: one each
    version = (
        session.scalar(
            select(func.max(TrainedModel.version)).where(TrainedModel.disease_type == disease_type)
        )
        or 0
    ) + 1
    relative = _copy_run(settings, run_dir, disease_type, version)
    final = settings.models_dir / relative
    model = TrainedModel(
        disease_type=disease_type,
        version=version,
        role=role,
        variant=scale_variant(superres_scale(str(card.get("arch", "")))),
        arch=str(card.get("arch", "unknown")),
        labels=labels,
        metrics=card.get("test"),
        card=card,
        directory=str(relative),
        sha256=file_sha256(final / MODEL_FILE),
        source=source,
        created_by_id=user_id,
    )
    session.add(model)
    session.flush()
    if activate or active_model(session, disease_type, role, superres_scale(model.arch)) is None:
        set_active(session, model)
    return model


def scale_variant(scale: int | None) -> str:
    """Super-resolution models of different scales are active side by side (E6: ×4 and ×8)."""
    return "" if scale is None else f"x{scale}"


def _copy_run(settings: Settings, run_dir: Path, disease_type: str, version: int) -> Path:
    """The run's files in a folder of their own under the registry, complete or not at all."""
    # a unique folder per registration, so a failed registration never touches another's files
    relative = Path(disease_type) / f"v{version}-{uuid.uuid4().hex[:8]}"
    final = settings.models_dir / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final.parent))
    try:
        for name in RUN_FILES:
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, staging / name)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return relative


def set_active(session: Session, model: TrainedModel) -> None:
    """Make ``model`` the one its disease type's slides are sent to for its role (and scale)."""
    session.execute(
        update(TrainedModel)
        .where(
            TrainedModel.disease_type == model.disease_type,
            TrainedModel.role == model.role,
            TrainedModel.variant == model.variant,
            TrainedModel.id != model.id,
        )
        .values(active=False)
    )
    session.flush()
    model.active = True
    session.flush()


def active_model(
    session: Session, disease_type: str, role: str = "tile", scale: int | None = None
) -> TrainedModel | None:
    return session.scalar(
        select(TrainedModel).where(
            TrainedModel.disease_type == disease_type,
            TrainedModel.role == role,
            TrainedModel.active,
            TrainedModel.variant == scale_variant(scale),
        )
    )


def model_for_slide_type(session: Session, disease_type: str, role: str = "tile") -> TrainedModel:
    """A3: the active model of the slide's disease type in ``role``, or a clear error."""
    model = active_model(session, disease_type, role)
    if model is None:
        raise NotFoundError(
            "no active model for disease type %(disease_type)r (role %(role)s): train or activate one",
            disease_type=disease_type,
            role=role,
        )
    return model


def find_version(
    session: Session, disease_type: str, version: int | None, role: str = "tile"
) -> TrainedModel:
    """A version by number, or the active one of ``role`` when ``version`` is None."""
    if version is None:
        return model_for_slide_type(session, disease_type, role)
    model = session.scalar(
        select(TrainedModel).where(TrainedModel.disease_type == disease_type, TrainedModel.version == version)
    )
    if model is None:
        raise NotFoundError(
            "%(disease_type)s has no model version %(version)s", disease_type=disease_type, version=version
        )
    return model


def model_path(settings: Settings, model: TrainedModel) -> Path:
    return settings.models_dir / model.directory


def load(settings: Settings, model: TrainedModel) -> LoadedModel:
    """Weights of a registered model, cached by checksum (a version's file never changes)."""
    return _load_cached(str(model_path(settings, model) / MODEL_FILE), model.sha256)


def load_superres(settings: Settings, model: TrainedModel) -> LoadedSuperRes:
    """A registered super-resolution generator, cached and checked the same way."""
    return _load_superres_cached(str(model_path(settings, model) / MODEL_FILE), model.sha256)


def _verified(path: str, sha256: str) -> Path:
    if file_sha256(Path(path)) != sha256:
        raise ValidationFailedError("model file does not match its registered checksum")
    return Path(path)


@lru_cache(maxsize=4)
def _load_cached(path: str, sha256: str) -> LoadedModel:
    from pathodesk.ml.model_file import load_model

    loaded = load_model(_verified(path, sha256))
    freeze_new_modules()
    return loaded


@lru_cache(maxsize=4)
def _load_superres_cached(path: str, sha256: str) -> LoadedSuperRes:
    from pathodesk.ml.superres_model import load_superres_model

    loaded = load_superres_model(_verified(path, sha256))
    freeze_new_modules()
    return loaded


def ensure_shipped_models(session: Session, settings: Settings, shipped_dir: Path = SHIPPED_DIR) -> int:
    """Register shipped models not yet in this registry; returns how many were added. Servers
    and workers starting together look again holding one lock, so the later ones find them;
    a start that finds them all takes no lock (and writes nothing)."""
    missing = _unregistered(session, shipped_dir)
    if missing:
        take_lock(session, "shipped-models")
        missing = _unregistered(session, shipped_dir)
    for run_dir, disease_type in missing:
        register(session, settings, run_dir, disease_type, source="shipped")
    return len(missing)


def _unregistered(session: Session, shipped_dir: Path) -> list[tuple[Path, str]]:
    """Shipped runs (and their disease types) this registry lacks; types an admin removed have
    nothing to attach a model to."""
    missing = []
    for run_dir in sorted(p for p in shipped_dir.glob("*") if (p / MODEL_FILE).is_file()):
        disease_type = str(read_card(run_dir).get("disease_type") or run_dir.name)
        if session.get(DiseaseType, disease_type) is None:
            continue
        sha = file_sha256(run_dir / MODEL_FILE)
        same = (TrainedModel.disease_type == disease_type) & (TrainedModel.sha256 == sha)
        if session.scalar(select(TrainedModel.id).where(same)) is None:
            missing.append((run_dir, disease_type))
    return missing
