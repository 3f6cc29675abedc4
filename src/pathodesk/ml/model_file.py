"""How a model's weights are saved and loaded: ``model.pt`` holds float32 tensors plus
plain values, loadable with ``weights_only=True`` (the folder around it: ``ml.model_folder``).
Serving (analysis) needs only this, never the trainer (or matplotlib)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pathodesk.ml.cascade_nets import COARSE_ARCH
from pathodesk.ml.model_folder import INT8_FILES
from pathodesk.ml.nets import build_model
from pathodesk.ml.pipeline import Normalization


@dataclass
class LoadedModel:
    model: nn.Module
    arch: str
    labels: list[str]
    normalization: Normalization
    image_px: int
    int8: Path | None = None  # the folder's int8 variant, when it has one


def save_model(
    path: Path, model: nn.Module, arch: str, labels: list[str], normalization: Normalization, image_px: int
) -> None:
    torch.save(
        {
            "arch": arch,
            "labels": labels,
            "mean": list(normalization.mean),
            "std": list(normalization.std),
            "image_px": image_px,
            "state_dict": {k: v.contiguous() for k, v in model.state_dict().items()},
        },
        path,
    )


def load_model(path: Path) -> LoadedModel:
    """Never unpickles code (``weights_only``): a model file from elsewhere cannot run anything."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(saved["arch"], len(saved["labels"]))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    if saved["arch"] != COARSE_ARCH:  # the coarse model's depthwise layers run 8x slower so
        model.to(memory_format=torch.channels_last)
    normalization = Normalization(tuple(saved["mean"]), tuple(saved["std"]))
    int8 = path.parent / INT8_FILES[0] if all((path.parent / n).is_file() for n in INT8_FILES) else None
    labels, image_px = list(saved["labels"]), int(saved["image_px"])
    return LoadedModel(model, saved["arch"], labels, normalization, image_px, int8)
