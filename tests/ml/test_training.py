"""Training on real tiles for a few steps (issue 6, item 3): the run is complete, reproducible,
and the saved model predicts what the trained one did. Full training is a command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pathodesk.ml.data import groups_of, read_groups, scan_class_folders
from pathodesk.ml.model_file import load_model
from pathodesk.ml.pipeline import to_model_input
from pathodesk.ml.train import TrainConfig, evaluate, make_splits, train

FAST = TrainConfig(epochs=3, lr=0.01, batch_size=16, image_px=64, max_steps_per_epoch=6, patience=5)


@pytest.fixture(scope="module")
def trained(cmu_tiles: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    data = scan_class_folders(cmu_tiles, read_groups(cmu_tiles / "groups.csv"))
    out = tmp_path_factory.mktemp("run")
    result = train(data, out, FAST, disease_type="qa", data_description="CMU tiles", progress=False)
    return out, result.card


def test_a_run_leaves_model_card_log_and_pictures(trained: tuple[Path, dict[str, object]]) -> None:
    out, card = trained
    for name in ("model.pt", "card.json", "log.csv", "curves.png", "confusion.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "card.json").read_text()) == card
    with (out / "log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[0]["lr"]) == pytest.approx(0.01)
    assert Image.open(out / "curves.png").size[0] > 500
    splits = card["splits"]
    assert isinstance(splits, dict) and splits["test"]["images"] > 0 and splits["validation"]["images"] > 0
    test = card["test"]
    assert isinstance(test, dict) and set(test) >= {
        "accuracy",
        "balanced_accuracy",
        "per_class_f1",
        "confusion_matrix",
    }
    # glass against tissue is easy: a few steps must already separate them
    assert test["balanced_accuracy"] >= 0.85, test
    training = card["training"]
    assert isinstance(training, dict) and 1 <= training["best_epoch"] <= 3
    assert card["input"]["image_px"] == 64 and len(card["input"]["mean"]) == 3  # type: ignore[index]


def test_splits_share_no_group(cmu_tiles: Path) -> None:
    data = scan_class_folders(cmu_tiles, read_groups(cmu_tiles / "groups.csv"))
    for split in ((0.8, 0.2), (0.6, 0.2, 0.2)):
        parts = make_splits(data, TrainConfig(split=split))
        train_g, val_g, test_g = (groups_of(p) for p in (parts.train, parts.validation, parts.test))
        assert not (train_g & val_g) and not (train_g & test_g) and not (val_g & test_g)


def test_saved_model_predicts_as_trained_and_evaluates(
    trained: tuple[Path, dict[str, object]], cmu_tiles: Path
) -> None:
    out, card = trained
    loaded = load_model(out / "model.pt")
    assert loaded.labels == card["labels"] and loaded.image_px == 64
    tile = next((cmu_tiles / "tissue").glob("*.png"))
    rgb = np.asarray(Image.open(tile).convert("RGB"))
    with torch.inference_mode():
        probabilities = loaded.model(to_model_input(rgb, loaded.normalization, loaded.image_px)).softmax(1)
    assert probabilities.shape == (1, 2) and loaded.labels[int(probabilities.argmax())] == "tissue"
    metrics = evaluate(loaded, scan_class_folders(cmu_tiles), progress=False)
    assert set(metrics) >= {"accuracy", "balanced_accuracy", "labels", "per_class_f1", "confusion_matrix"}
    assert metrics["balanced_accuracy"] >= 0.85


def test_same_seed_same_model(cmu_tiles: Path, tmp_path: Path) -> None:
    data = scan_class_folders(cmu_tiles, read_groups(cmu_tiles / "groups.csv"))
    config = TrainConfig(epochs=1, lr=0.05, batch_size=16, image_px=48, max_steps_per_epoch=3)
    weights = []
    for run in ("a", "b"):
        train(data, tmp_path / run, config, disease_type="qa", data_description="d", progress=False)
        weights.append(torch.load(tmp_path / run / "model.pt", weights_only=True)["state_dict"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
