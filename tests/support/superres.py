"""A small super-resolution generator registered as a disease type's active ×8 model, for
tests that need generated pixels without training (its weights are random, not bicubic)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pathodesk.config import Settings
from pathodesk.db.session import Database
from pathodesk.ml.model_folder import CARD_FILE, MODEL_FILE
from pathodesk.ml.registry import register
from pathodesk.ml.superres_arch import superres_arch
from pathodesk.ml.superres_model import save_superres_model
from pathodesk.ml.superres_nets import SuperResolutionNet


def random_generator(scale: int = 8, seed: int = 5) -> SuperResolutionNet:
    torch.manual_seed(seed)
    model = SuperResolutionNet(scale, width=16, blocks=2)
    with torch.no_grad():
        for parameter in model.decoder[-2].parameters():
            parameter.normal_(0, 0.02)  # the last layer starts at zero (bicubic): make it see
    return model.eval()


def register_generator(
    settings: Settings, model: SuperResolutionNet, run: Path, disease_type: str = "lung"
) -> None:
    run.mkdir(parents=True)
    arch = superres_arch(model.scale, 16, 2)
    save_superres_model(run / MODEL_FILE, model, arch)
    (run / CARD_FILE).write_text(json.dumps({"arch": arch, "role": "superres", "labels": []}))
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        register(session, settings, run, disease_type, activate=True)
    db.dispose()
