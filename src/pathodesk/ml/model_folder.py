"""What a trained model's folder holds (``model.pt``, ``card.json``, pictures, log, splits, an
optional int8 variant) and reading its card and splits: kept apart from the weights' loading
(``ml.model_file``) so that opening the database, which registers the shipped models, never
imports torch.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from pathodesk.errors import ValidationFailedError

MODEL_FILE = "model.pt"
CARD_FILE = "card.json"
LOG_FILE = "log.csv"  # one row per epoch (or step) of training: its losses and scores
PICTURES = ("curves.png", "confusion.png", "examples.png")  # examples: super-resolution crops
INT8_FILES = ("int8.xml", "int8.bin")  # optional int8 variant (OpenVINO IR): analysis.int8
RUN_FILES = (MODEL_FILE, CARD_FILE, LOG_FILE, "splits.csv", *PICTURES, *INT8_FILES)


def write_log(history: Sequence[Mapping[str, float]], folder: Path) -> None:
    with (folder / LOG_FILE).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


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
