"""A fusion model's file (issue 16): the weights plus what inference needs to see as training
saw — the stains in order, each stain's reference colours, the channel statistics, the
patch size and its µm per px. Loading never unpickles code (``weights_only``), and serving
needs this module only, never the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pathodesk.errors import ValidationFailedError
from pathodesk.ml.fusion_data import StainNormalization
from pathodesk.ml.fusion_nets import StainFusionNet, parse_fusion_arch
from pathodesk.ml.nets import build_model
from pathodesk.stain import StainNormalizer
from pathodesk.stain.normalizer import StainFit, with_reference


@dataclass
class FusionModel:
    model: StainFusionNet
    arch: str
    labels: list[str]
    stains: list[str]
    normalization: StainNormalization
    patch_px: int
    microns_per_px: float | None


def reference_of(fitted: StainNormalizer | None) -> dict[str, object] | None:
    """A stain's reference colours as plain numbers."""
    if fitted is None or not isinstance(fitted.reference, StainFit):
        return None
    return {
        "method": fitted.method,
        "stains": fitted.reference.stains.tolist(),
        "max_amounts": fitted.reference.max_amounts.tolist(),
    }


def normalizer_of(reference: dict[str, object] | None) -> StainNormalizer | None:
    if reference is None:
        return None
    return with_reference(
        str(reference["method"]),
        np.asarray(reference["stains"], np.float64),
        np.asarray(reference["max_amounts"], np.float64),
    )


def save_fusion_model(
    path: Path,
    model: StainFusionNet,
    arch: str,
    labels: list[str],
    stains: list[str],
    normalization: StainNormalization,
    patch_px: int,
    microns_per_px: float | None,
) -> None:
    torch.save(
        {
            "arch": arch,
            "labels": labels,
            "stains": stains,
            "mean": normalization.mean.ravel().tolist(),
            "std": normalization.std.ravel().tolist(),
            "colour_references": [reference_of(fitted) for fitted in normalization.normalizers],
            "keep_amounts": list(normalization.keep_amounts or [False] * len(stains)),
            "image_px": patch_px,
            "microns_per_px": microns_per_px,
            "state_dict": {k: v.contiguous() for k, v in model.state_dict().items()},
        },
        path,
    )


def load_fusion_model(path: Path) -> FusionModel:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    arch = str(saved["arch"])
    if parse_fusion_arch(arch) is None:
        raise ValidationFailedError("%(name)s is not a multi-stain fusion model.", name=path.parent.name)
    model = build_model(arch, len(saved["labels"]))
    assert isinstance(model, StainFusionNet)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    count = len(saved["stains"])
    normalization = StainNormalization(
        [normalizer_of(reference) for reference in saved["colour_references"]],
        np.asarray(saved["mean"], np.float64).reshape(count, 3),
        np.asarray(saved["std"], np.float64).reshape(count, 3),
        [bool(kept) for kept in saved.get("keep_amounts", [False] * count)],
    )
    mpp = saved.get("microns_per_px")
    return FusionModel(
        model,
        arch,
        list(saved["labels"]),
        list(saved["stains"]),
        normalization,
        int(saved["image_px"]),
        None if mpp is None else float(mpp),
    )


def stain_weights(
    model: StainFusionNet, inputs: torch.Tensor, batch: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (n, classes) and SE stain weights (n, stains) of input stacks."""
    model.eval()
    probabilities, weights = [], []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch):
            logits = model(inputs[start : start + batch])
            probabilities.append(torch.softmax(logits, 1).numpy())
            assert model.last_weights is not None
            weights.append(model.last_weights.numpy())
    return np.concatenate(probabilities), np.concatenate(weights)
