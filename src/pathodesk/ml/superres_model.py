"""The super-resolution model file and inference (SPEC E6, E8): what serving needs, never the
trainer. Same folder layout as every registered model (``model.pt`` + ``card.json``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pathodesk.errors import ValidationFailedError
from pathodesk.ml.superres_data import to_image, to_tensor
from pathodesk.ml.superres_nets import SuperResolutionNet, superres_model


@dataclass
class LoadedSuperRes:
    model: SuperResolutionNet
    arch: str

    @property
    def scale(self) -> int:
        return self.model.scale


def save_superres_model(path: Path, model: SuperResolutionNet, arch: str) -> None:
    torch.save({"arch": arch, "state_dict": {k: v.contiguous() for k, v in model.state_dict().items()}}, path)


def load_superres_model(path: Path) -> LoadedSuperRes:
    """Never unpickles code (``weights_only``)."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = superres_model(str(saved.get("arch", "")))
    if model is None:
        raise ValidationFailedError("%(name)s is not a super-resolution model", name=path.parent.name)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return LoadedSuperRes(model, str(saved["arch"]))


@torch.inference_mode()
def super_resolve(model: SuperResolutionNet, low: np.ndarray) -> np.ndarray:
    """RGB uint8 (h, w, 3) → (scale·h, scale·w, 3), in one pass (tiling is the caller's:
    ``analysis`` cuts slides into tiles with margins)."""
    if low.ndim != 3 or low.shape[2] != 3:
        raise ValidationFailedError("super-resolution needs an RGB image")
    return to_image(model(to_tensor(low[np.newaxis]))[0])
