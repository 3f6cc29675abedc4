"""Training (SPEC B6; issue 6, item 3): mini-batch SGD, step learning rate, cross-entropy.

Departures from the seed recipe, on purpose: the best epoch is chosen on a *validation*
split (the seed chose on the test set, which leaks test data into the model choice), the
test split is scored once, at the end; training stops early when validation stops
improving. Everything is seeded: the same data and settings give the same model.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import platform
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pathodesk import __version__
from pathodesk.ml.cascade_nets import load_backbone
from pathodesk.ml.data import (
    DataError,
    LabelledSet,
    Sample,
    balance_by_augmentation,
    group_split,
    groups_of,
    require_known_classes,
)
from pathodesk.ml.metrics import classification_metrics
from pathodesk.ml.model_file import LoadedModel, save_model
from pathodesk.ml.model_folder import CARD_FILE, MODEL_FILE, write_log
from pathodesk.ml.model_pictures import write_pictures
from pathodesk.ml.nets import build_model, count_parameters
from pathodesk.ml.pipeline import Batches, ImageBank, Normalization


@dataclass
class TrainConfig:
    arch: str = "shortcut-concat"
    epochs: int = 100  # B6
    lr: float = 1e-4  # B6
    lr_step_epochs: int = 10  # B6: x0.1 every 10 epochs
    lr_gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 32
    patience: int = 10  # epochs without a better validation score before stopping
    image_px: int = 224  # B4
    split: tuple[float, ...] = (0.8, 0.2)  # B3 train:test; (0.6, 0.2, 0.2) is D5's train:val:test
    validation_share_of_train: float = 0.125  # with a two-way split, validation groups come from train
    seed: int = 0
    random_orientation: bool = True  # beyond B4: random 90° rotations and flips while training
    stain_jitter: float = 0.0  # beyond B4: HED jitter strength (0.05-0.2 helps across labs)
    max_steps_per_epoch: int | None = None  # tests train a few steps only
    init_from: str | None = None  # a model file whose matching backbone weights start this one
    threads: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))


@dataclass
class Splits:
    train: list[Sample]
    validation: list[Sample]
    test: list[Sample]


def make_splits(data: LabelledSet, config: TrainConfig) -> Splits:
    if len(config.split) == 3:
        train, validation, test = group_split(data.samples, config.split, config.seed)
    elif len(config.split) == 2:
        train_and_validation, test = group_split(data.samples, config.split, config.seed)
        share = config.validation_share_of_train
        train, validation = group_split(train_and_validation, (1 - share, share), config.seed + 1)
    else:
        raise ValueError("split must have two (train:test) or three (train:val:test) parts")
    return Splits(train, validation, test)


@dataclass
class TrainResult:
    directory: Path
    card: dict[str, object]


class BatchSource(Protocol):
    """Batches of (inputs, labels), any number of times, with a known count."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...

    def __len__(self) -> int: ...


def predict(model: nn.Module, batches: BatchSource) -> tuple[np.ndarray, np.ndarray, float]:
    """Labels, predictions and mean loss over ``batches``, in inference mode."""
    model.eval()
    losses, truth, predicted = [], [], []
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    with torch.inference_mode():
        for images, labels in batches:
            logits = model(images)
            losses.append(float(loss_fn(logits, labels)))
            truth.append(labels.numpy())
            predicted.append(logits.argmax(1).numpy())
    count = sum(len(t) for t in truth)
    return np.concatenate(truth), np.concatenate(predicted), sum(losses) / max(count, 1)


def train(
    data: LabelledSet,
    out_dir: Path,
    config: TrainConfig,
    *,
    disease_type: str,
    data_description: str,
    splits: Splits | None = None,
    progress: bool = True,
    notes: list[str] | None = None,
    role: str = "tile",
) -> TrainResult:
    """Train, keep the best validation epoch, score the test split once, write the run."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    splits = splits or make_splits(data, config)
    if not splits.train or not splits.validation:
        groups = len(groups_of(data.samples))
        raise DataError(
            "too few groups (%(groups)s) to give both a training and a validation split", groups=groups
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    bank = _decode(splits, config.image_px, progress)
    normalization = bank.normalization(splits.train)
    model = build_model(config.arch, len(data.labels))
    if config.init_from:
        taken = load_backbone(model, torch.load(config.init_from, weights_only=True)["state_dict"])
        notes = [
            *(notes or []),
            f"backbone started from {Path(config.init_from).parent.name}: {taken} tensors",
        ]
    model = model.to(memory_format=torch.channels_last)
    train_batches = Batches(
        bank,
        balance_by_augmentation(splits.train, config.seed),
        normalization,
        config.batch_size,
        train=True,
        seed=config.seed,
        random_orientation=config.random_orientation,
        stain_jitter=config.stain_jitter,
    )
    val_batches = Batches(bank, splits.validation, normalization, 64, False)
    history, best_epoch = fit(model, train_batches, val_batches, data.labels, config, progress)
    test_metrics: dict[str, object] | None = None
    if splits.test:
        truth, predicted, _ = predict(model, Batches(bank, splits.test, normalization, 64, False))
        test_metrics = classification_metrics(truth, predicted, data.labels)
    seconds = time.perf_counter() - started
    write_log(history, out_dir)
    write_splits(splits, data.labels, out_dir / "splits.csv")
    card = _card(data, splits, config, normalization, model, history, best_epoch, test_metrics, seconds)
    card.update(disease_type=disease_type, role=role, data=data_description, notes=notes or [])
    card["stain"] = bank.dominant_stain(splits.train)
    save_model(out_dir / MODEL_FILE, model, config.arch, data.labels, normalization, config.image_px)
    text = json.dumps(card, indent=2)
    (out_dir / CARD_FILE).write_text(text)
    write_pictures(out_dir)
    return TrainResult(out_dir, json.loads(text))  # as a reader of the card will see it


def _decode(splits: Splits, image_px: int, progress: bool) -> ImageBank:
    """Every distinct image of every split decoded once (B4)."""
    every = splits.train + splits.validation + splits.test
    with tqdm(total=len({(s.path, s.region) for s in every}), desc="decoding", disable=not progress) as bar:
        return ImageBank(every, image_px, lambda done, _total: bar.update(done - bar.n))


def fit(
    model: nn.Module,
    train_batches: BatchSource,
    val_batches: BatchSource,
    labels: list[str],
    config: TrainConfig,
    progress: bool,
    optimizer: torch.optim.Optimizer | None = None,
) -> tuple[list[dict[str, float]], int]:
    """Epochs with a step schedule (B6: SGD unless another ``optimizer`` is given) until
    ``epochs`` or ``patience`` runs out; leaves ``model`` at its best validation epoch.
    Returns the history and that epoch. Any batches of (inputs, labels) will do: tiles, or
    the stacks of stains of a fusion model."""
    optimizer = optimizer or torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step_epochs, config.lr_gamma)
    history: list[dict[str, float]] = []
    best_score, best_epoch, best_state = -1.0, 0, copy.deepcopy(model.state_dict())
    for epoch in range(1, config.epochs + 1):
        train_loss, train_accuracy = _train_epoch(model, train_batches, optimizer, epoch, config, progress)
        schedule.step()
        truth, predicted, val_loss = predict(model, val_batches)
        val = classification_metrics(truth, predicted, labels)
        row = {
            "epoch": epoch,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "val_loss": val_loss,
            "val_accuracy": float(val["accuracy"]),  # type: ignore[arg-type]
            "val_balanced_accuracy": float(val["balanced_accuracy"]),  # type: ignore[arg-type]
        }
        history.append(row)
        if progress:
            tqdm.write(
                f"epoch {epoch}: train loss {row['train_loss']:.3f} acc {row['train_accuracy']:.3f}"
                f" | validation loss {val_loss:.3f} balanced acc {row['val_balanced_accuracy']:.3f}"
            )
        # ties go to the lower validation loss, so a plateau still picks the surest epoch
        score = row["val_balanced_accuracy"] - 1e-6 * row["val_loss"]
        if score > best_score:
            best_score, best_epoch, best_state = score, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= config.patience:
            break
    model.load_state_dict(best_state)
    return history, best_epoch


def _train_epoch(
    model: nn.Module,
    batches: BatchSource,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    config: TrainConfig,
    progress: bool,
) -> tuple[float, float]:
    """One pass over the training batches (capped by ``max_steps_per_epoch``): mean loss, accuracy."""
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    seen = correct = 0
    total_loss = 0.0
    steps = len(batches) if config.max_steps_per_epoch is None else config.max_steps_per_epoch
    with tqdm(total=min(steps, len(batches)), desc=f"epoch {epoch}", disable=not progress) as bar:
        for step, (images, labels) in enumerate(batches):
            if step >= steps:
                break
            optimizer.zero_grad(set_to_none=True)
            logits = model(images)
            loss = loss_fn(logits, labels)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(labels)
            seen += len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            bar.update(1)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}")
    return total_loss / max(seen, 1), correct / max(seen, 1)


def write_splits(splits: Splits, labels: list[str], path: Path) -> None:
    """Which image went where (``path`` relative to the data's common folder), so that anyone
    can re-score the test split of a model (``splits.csv``)."""
    every = splits.train + splits.validation + splits.test
    root = Path(os.path.commonpath([str(s.path.parent) for s in every]))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["split", "path", "group", "label"])
        for name, part in (("train", splits.train), ("validation", splits.validation), ("test", splits.test)):
            for sample in part:
                region = sample.region
                where = sample.path.relative_to(root).as_posix()
                if region is not None:
                    where += f"#{region.x},{region.y},{region.size}"
                writer.writerow([name, where, sample.group, labels[sample.label]])


def _card(
    data: LabelledSet,
    splits: Splits,
    config: TrainConfig,
    normalization: Normalization,
    model: nn.Module,
    history: list[dict[str, float]],
    best_epoch: int,
    test_metrics: dict[str, object] | None,
    seconds: float,
) -> dict[str, object]:
    def describe(samples: list[Sample]) -> dict[str, object]:
        subset = LabelledSet(data.labels, samples)
        return {"images": len(samples), "groups": len(groups_of(samples)), "per_class": subset.counts()}

    best = history[best_epoch - 1]
    return {
        "arch": config.arch,
        "parameters": count_parameters(model),
        "labels": data.labels,
        "input": {
            "image_px": config.image_px,
            "mean": list(normalization.mean),
            "std": list(normalization.std),
            "channels": "RGB, scaled to [0, 1], then (x - mean) / std per channel",
        },
        "splits": {
            "train": describe(splits.train),
            "validation": describe(splits.validation),
            "test": describe(splits.test),
            "grouped_by": "no group in two splits",
        },
        "training": {
            **{k: v for k, v in asdict(config).items() if k != "threads"},
            "epochs_run": len(history),
            "best_epoch": best_epoch,
            "seconds": round(seconds, 1),
            "threads": config.threads,
            "machine": platform.machine(),
            "torch": torch.__version__,
            "pathodesk": __version__,
        },
        "validation": {k: round(v, 4) for k, v in best.items() if k.startswith("val_")},
        "test": test_metrics,
    }


def evaluate(loaded: LoadedModel, data: LabelledSet, progress: bool = True) -> dict[str, object]:
    """Accuracy, balanced accuracy, per-class F1 and confusion on a class-folder set; the
    folder names must be the model's class names (in any order)."""
    require_known_classes(data.labels, loaded.labels)
    remap = {i: loaded.labels.index(name) for i, name in enumerate(data.labels)}
    samples = [Sample(s.path, remap[s.label], s.group, s.region) for s in data.samples]
    with tqdm(total=len(samples), desc="decoding", disable=not progress) as bar:
        bank = ImageBank(samples, loaded.image_px, lambda done, _total: bar.update(done - bar.n))
    truth, predicted, _ = predict(loaded.model, Batches(bank, samples, loaded.normalization, 64, False))
    return classification_metrics(truth, predicted, loaded.labels)


def train_until(
    data: LabelledSet,
    out_dir: Path,
    config: TrainConfig,
    *,
    min_validation: float,
    attempts: int,
    disease_type: str,
    data_description: str,
    progress: bool = True,
) -> tuple[TrainResult, bool]:
    """B6: train again with the next seed until the best epoch's validation balanced accuracy
    reaches ``min_validation`` or ``attempts`` runs are spent. The splits stay those of the
    first seed (a new seed must not buy a new test set), the run kept is the best by
    validation, never by test, and its card lists every attempt. Returns it and whether the
    threshold was met."""
    splits = make_splits(data, config)
    tried: list[dict[str, float]] = []
    best: tuple[float, Path] | None = None
    for attempt in range(1, attempts + 1):
        seed = config.seed + attempt - 1
        run_dir = out_dir / f".attempt-{attempt}"
        result = train(
            data,
            run_dir,
            replace(config, seed=seed),
            disease_type=disease_type,
            data_description=data_description,
            splits=splits,
            progress=progress,
        )
        validation = result.card["validation"]
        assert isinstance(validation, dict)
        score = float(validation["val_balanced_accuracy"])
        tried.append({"attempt": attempt, "seed": seed, "val_balanced_accuracy": score})
        if best is None or score > best[0]:
            best = (score, run_dir)
        if score >= min_validation:
            break
    assert best is not None
    for path in best[1].iterdir():
        shutil.move(str(path), out_dir / path.name)
    for attempt in range(1, attempts + 1):
        shutil.rmtree(out_dir / f".attempt-{attempt}", ignore_errors=True)
    card = json.loads((out_dir / CARD_FILE).read_text())
    card["retraining"] = {"min_val_balanced_accuracy": min_validation, "attempts": tried}
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=2))
    return TrainResult(out_dir, card), best[0] >= min_validation
