"""The model file format: what a registered model's folder holds and how its weights are
saved and loaded. Serving (analysis) needs only this, never the trainer (or matplotlib).

A folder holds ``model.pt`` (weights as float32 tensors plus plain values, loadable with
``weights_only=True``), ``card.json`` (what it was trained on and how well it did) and
optional pictures, log and splits.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pathodesk.errors import ValidationFailedError
from pathodesk.ml.cascade_nets import COARSE_ARCH
from pathodesk.ml.nets import build_model
from pathodesk.ml.pipeline import Normalization

MODEL_FILE = "model.pt"
CARD_FILE = "card.json"
PICTURES = ("curves.png", "confusion.png", "examples.png")  # examples: super-resolution crops
INT8_FILES = ("int8.xml", "int8.bin")  # optional int8 variant (OpenVINO IR): analysis.int8
RUN_FILES = (MODEL_FILE, CARD_FILE, "log.csv", "splits.csv", *PICTURES, *INT8_FILES)


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


def split_rows(splits_csv: Path, tiles_dir: Path, split: str) -> list[tuple[Path, str]]:
    """The images of one split of a model folder's ``splits.csv``, in its order, each with its
    class name (paths are relative to ``tiles_dir``, the data's common folder)."""
    with splits_csv.open(newline="") as handle:
        return [
            (tiles_dir / row["path"], row["label"]) for row in csv.DictReader(handle) if row["split"] == split
        ]


def read_card(run_dir: Path) -> dict[str, object]:
    try:
        card = json.loads((run_dir / CARD_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ValidationFailedError(
            "%(name)s: no readable model card (%(exc)s)", name=run_dir.name, exc=exc
        ) from None
    if not (run_dir / MODEL_FILE).is_file() or not isinstance(card, dict):
        raise ValidationFailedError(
            "%(name)s: a model folder needs %(model_file)s and %(card_file)s",
            name=run_dir.name,
            model_file=MODEL_FILE,
            card_file=CARD_FILE,
        )
    return card
