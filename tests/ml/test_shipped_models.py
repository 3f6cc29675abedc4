"""The committed models evaluate as their cards report (issue 6, item 5), on the very test
images listed in their splits.csv (../shared/data), and no group crosses a split."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pathodesk.ml.data import LabelledSet, Sample
from pathodesk.ml.model_file import load_model
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.ml.train import evaluate

DATA = {"lung": "lc25000-lung-224", "thyroid": "thyhister-thyroid"}


@pytest.mark.shared
@pytest.mark.parametrize("disease_type", sorted(DATA))
def test_shipped_model_scores_its_test_split_as_reported(disease_type: str, shared_data: Path) -> None:
    folder = SHIPPED_DIR / disease_type
    card = json.loads((folder / "card.json").read_text())
    assert (folder / "model.pt").stat().st_size <= 20 * 1024**2  # small enough to commit
    with (folder / "splits.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    groups = {
        split: {r["group"] for r in rows if r["split"] == split} for split in ("train", "validation", "test")
    }
    assert not (groups["train"] & groups["test"]) and not (groups["validation"] & groups["test"])
    assert not (groups["train"] & groups["validation"])
    loaded = load_model(folder / "model.pt")
    root = shared_data / DATA[disease_type]
    test = [
        Sample(root / r["path"], loaded.labels.index(r["label"]), r["group"])
        for r in rows
        if r["split"] == "test"
    ]
    assert len(test) == card["test"]["count"]
    metrics = evaluate(loaded, LabelledSet(loaded.labels, test), progress=False)
    assert metrics["confusion_matrix"] == card["test"]["confusion_matrix"]
    assert metrics["accuracy"] == card["test"]["accuracy"]
    print(f"\n{disease_type} ({card['arch']}): test {metrics['accuracy']}")
