"""Model registry (issue 6, item 4; SPEC A3): versions per disease type, one active, shipped
models in every new data directory, and a slide's disease type selecting its model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from pathodesk.config import Settings
from pathodesk.db.models import DiseaseType, TrainedModel
from pathodesk.db.session import Database, migrate
from pathodesk.errors import NotFoundError, ValidationFailedError
from pathodesk.ml.data import read_groups, scan_class_folders
from pathodesk.ml.registry import (
    ensure_shipped_models,
    find_version,
    load,
    model_for_slide_type,
    register,
    set_active,
)
from pathodesk.ml.train import TrainConfig, train
from pathodesk.storage import file_sha256


@pytest.fixture(scope="module")
def run_dir(cmu_tiles: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = scan_class_folders(cmu_tiles, read_groups(cmu_tiles / "groups.csv"))
    out = tmp_path_factory.mktemp("registry-run")
    config = TrainConfig(epochs=1, lr=0.01, batch_size=16, image_px=48, max_steps_per_epoch=2)
    train(data, out, config, disease_type="qa", data_description="CMU tiles", progress=False)
    return out


@pytest.fixture
def db(settings: Settings) -> Database:
    url = settings.resolved_database_url()
    migrate(url)
    database = Database(url)
    with database.session() as session:
        labels = [{"name": "glass", "color": "#cccccc"}, {"name": "tissue", "color": "#aa3377"}]
        session.add(DiseaseType(name="qa", display_name="QA", labels=labels))
    return database


def test_versions_and_one_active_model_per_type(db: Database, settings: Settings, run_dir: Path) -> None:
    with db.session() as session:
        with pytest.raises(NotFoundError, match="no active model"):
            model_for_slide_type(session, "qa")
        first = register(session, settings, run_dir, "qa")
        second = register(session, settings, run_dir, "qa")
        assert (first.version, first.active, second.version, second.active) == (1, True, 2, False)
        assert model_for_slide_type(session, "qa").id == first.id  # the type selects its model
        set_active(session, second)
        assert model_for_slide_type(session, "qa").id == second.id
        session.refresh(first)
        assert first.active is False
        assert (settings.models_dir / second.directory / "curves.png").is_file()
        assert second.metrics is not None and "balanced_accuracy" in second.metrics
        assert file_sha256(settings.models_dir / second.directory / "model.pt") == second.sha256
        assert load(settings, second).labels == ["glass", "tissue"]
    with db.session() as session, pytest.raises(IntegrityError):  # the database itself refuses two
        session.execute(update(TrainedModel).where(TrainedModel.disease_type == "qa").values(active=True))


def test_one_active_model_per_type_and_role(db: Database, settings: Settings, run_dir: Path) -> None:
    """Model roles (structure issue, item 3): a cascade's fine grader beside the tile model; a
    coarse grader grades on the type's scale, so its classes must be grades (issue 14)."""
    with db.session() as session:
        tile = register(session, settings, run_dir, "qa")
        fine = register(session, settings, run_dir, "qa", role="fine")
        assert (tile.role, tile.active, fine.role, fine.active) == ("tile", True, "fine", True)
        assert model_for_slide_type(session, "qa").id == tile.id  # the default role is tile
        assert model_for_slide_type(session, "qa", role="fine").id == fine.id
        newer = register(session, settings, run_dir, "qa", role="fine", activate=True)
        session.refresh(tile)
        session.refresh(fine)
        assert (tile.active, fine.active, newer.active) == (True, False, True)
        assert find_version(session, "qa", None, role="fine").id == newer.id
        with pytest.raises(NotFoundError, match=r"no active model for disease type 'qa' \(role coarse\)"):
            model_for_slide_type(session, "qa", role="coarse")
        grades = r"are not labels of disease type 'qa' \(\['benign', 'malignant'\]\)"
        with pytest.raises(ValidationFailedError, match=grades):
            register(session, settings, run_dir, "qa", role="coarse")
        with pytest.raises(ValidationFailedError, match="model role 'grader'"):
            register(session, settings, run_dir, "qa", role="grader")
    with db.session() as session, pytest.raises(IntegrityError):  # per role, the database refuses two
        session.execute(
            update(TrainedModel)
            .where(TrainedModel.disease_type == "qa", TrainedModel.role == "fine")
            .values(active=True)
        )


def test_super_resolution_models_of_both_scales_are_active_side_by_side(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """E6: one active generator per type and scale; the database refuses two of one scale."""
    from pathodesk.ml.registry import active_model
    from tests.support.superres import random_generator, register_generator

    for name, scale in (("x4", 4), ("x8", 8), ("x8-again", 8)):
        register_generator(settings, random_generator(scale), tmp_path / name, disease_type="qa")
    with db.session() as session:
        x4, x8 = (active_model(session, "qa", "superres", scale) for scale in (4, 8))
        assert x4 is not None and x8 is not None
        assert (x4.variant, x8.variant, x8.version) == ("x4", "x8", 3)  # the newest ×8 took over
        assert active_model(session, "qa", "superres") is None  # a scale must be named
    with db.session() as session, pytest.raises(IntegrityError):
        session.execute(
            update(TrainedModel)
            .where(TrainedModel.role == "superres", TrainedModel.variant == "x8")
            .values(active=True)
        )


def test_registration_checks_labels_and_files(
    db: Database, settings: Settings, run_dir: Path, tmp_path: Path
) -> None:
    with db.session() as session:
        with pytest.raises(ValidationFailedError, match="not labels of disease type 'lung'"):
            register(session, settings, run_dir, "lung")
        with pytest.raises(NotFoundError):
            register(session, settings, run_dir, "no-such-type")
        with pytest.raises(ValidationFailedError, match="model card"):
            register(session, settings, tmp_path, "qa")
    assert not any((settings.models_dir / "lung").glob("v*"))  # nothing half-written


def test_tampered_weights_are_refused(db: Database, settings: Settings, run_dir: Path) -> None:
    with db.session() as session:
        model = register(session, settings, run_dir, "qa")
        weights = settings.models_dir / model.directory / "model.pt"
        weights.write_bytes(weights.read_bytes() + b"x")
        with pytest.raises(ValidationFailedError, match="checksum"):
            load(settings, model)


def test_shipped_models_are_registered_once_and_activated(
    db: Database, settings: Settings, run_dir: Path, tmp_path: Path
) -> None:
    shipped = tmp_path / "shipped"
    shutil.copytree(run_dir, shipped / "qa")
    with db.session() as session:
        assert ensure_shipped_models(session, settings, shipped) == 1
        assert ensure_shipped_models(session, settings, shipped) == 0  # idempotent
        active = model_for_slide_type(session, "qa")
        assert active.source == "shipped" and active.version == 1
    card = json.loads((shipped / "qa" / "card.json").read_text())
    card["disease_type"] = "removed-type"
    (shipped / "qa" / "card.json").write_text(json.dumps(card))
    with db.session() as session:
        assert ensure_shipped_models(session, settings, shipped) == 0  # no type, no model


def test_the_real_shipped_models_are_active_in_a_new_data_directory(settings: Settings) -> None:
    from pathodesk.analysis.superres_service import SuperResolution
    from pathodesk.ml.registry import SHIPPED_DIR, active_model, load_superres
    from pathodesk.ml.shipped import install_shipped_models

    url = settings.resolved_database_url()
    migrate(url)
    database = Database(url)
    install_shipped_models(database, settings)
    shipped = sorted(p.name for p in SHIPPED_DIR.glob("*") if (p / "model.pt").is_file())
    superres = [name for name in shipped if name.startswith("superres-")]
    assert [name for name in shipped if name not in superres] == [
        "lung",
        "lung-coarse",
        "lung-fine",
        "thyroid",
        "thyroid-coarse",
        "thyroid-fine",
    ]
    assert superres == ["superres-x4", "superres-x4-l1", "superres-x8", "superres-x8-l1"]
    roles = {"": "tile", "coarse": "coarse", "fine": "fine"}
    with database.session() as session:
        for folder in shipped:
            if folder in superres:
                continue
            disease_type, _, role = folder.partition("-")
            model = model_for_slide_type(session, disease_type, roles[role])
            assert model.source == "shipped" and model.metrics is not None
            assert load(settings, model).labels == model.labels
        # E6: the general generators of each scale (type "unclassified"), the GAN one active
        for scale in (4, 8):
            generator = active_model(session, "unclassified", "superres", scale)
            assert generator is not None and generator.source == "shipped"
            assert generator.card["training"]["recipe"] == "gan"
            assert load_superres(settings, generator).scale == scale
            assert active_model(session, "lung", "superres", scale) is None
    tag = SuperResolution(settings, database).tag("lung")  # a type without its own: the general ones
    assert tag.startswith("x4:") and ",x8:" in tag
