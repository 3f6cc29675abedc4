"""A small multi-stain fusion model trained on real tissue for tests of the product around it
(jobs, routes, pages): the CMU H&E and its restained copy cut into patches, the class being
which half of the section a patch lies in. It learns that in a few steps; what it shows is
the plumbing, not a diagnosis."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.ml import registry
from pathodesk.ml.data import group_split
from pathodesk.ml.fusion_data import StainNormalization, grid_stacks
from pathodesk.ml.fusion_model import save_fusion_model
from pathodesk.ml.fusion_nets import StainFusionNet, fusion_arch
from pathodesk.ml.fusion_train import FusionConfig, save_fusion_run, train_fusion
from pathodesk.ml.model_folder import CARD_FILE, MODEL_FILE

STAINS = ("H&E", "HER2")


def install_fusion_model(
    settings: Settings, images: tuple[np.ndarray, np.ndarray], disease_type: str, labels: tuple[str, str]
) -> int:
    """Trains, registers and activates a fusion model for ``disease_type``; returns its id."""
    width = images[0].shape[1]
    stacks = []
    for half in (0, 1):  # each half's columns of 56 px are the 'patients'
        for column in range(half * width // 2, (half + 1) * width // 2 - 56, 56):
            part = [image[:, column : column + 56] for image in images]
            stacks += grid_stacks(part, half, f"{half}-{column}", 28)
    train, validation, test = group_split(stacks, (0.6, 0.2, 0.2), 0)
    splits = {"train": train, "validation": validation, "test": test}
    config = FusionConfig(STAINS, ("macenko", "macenko"), epochs=1, max_steps_per_epoch=15, batch_size=32)
    run = train_fusion(splits, list(labels), config)
    db = Database(settings.resolved_database_url())
    try:
        settings.models_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=settings.models_dir) as folder:
            save_fusion_run(
                run,
                splits,
                list(labels),
                config,
                Path(folder),
                disease_type=disease_type,
                data_description="CMU halves",
            )
            with db.session() as session:
                model = registry.register(
                    session, settings, Path(folder), disease_type, role="fusion", activate=True
                )
                session.commit()
                return model.id
    finally:
        db.dispose()


def install_untrained_fusion_model(
    settings: Settings, db: Database, disease_type: str, labels: list[str], stains: list[str]
) -> int:
    """A fusion model straight from its random start (where only the routes around it are
    tested, not what it predicts): registered and active for ``disease_type``."""
    model = StainFusionNet(len(stains), len(labels))
    normalization = StainNormalization(
        [None] * len(stains), np.zeros((len(stains), 3)), np.ones((len(stains), 3))
    )
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.models_dir) as folder:
        save_fusion_model(
            Path(folder) / MODEL_FILE,
            model,
            fusion_arch(len(stains)),
            labels,
            stains,
            normalization,
            28,
            None,
        )
        card = {"arch": fusion_arch(len(stains)), "role": "fusion", "labels": labels, "stains": stains}
        (Path(folder) / CARD_FILE).write_text(json.dumps(card))
        with db.session() as session:
            registered = registry.register(
                session, settings, Path(folder), disease_type, role="fusion", activate=True
            )
            session.commit()
            return registered.id
