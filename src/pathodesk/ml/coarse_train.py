"""Training the cascade's stage-1 grader (SPEC C1; issue 14, item 2).

The coarse model learns from low-power *canvases*: tissue-shaped arrangements of real
labelled tiles of one split, each tile shrunk to its low-power footprint (224 -> 28 px),
on glass, with a lesion blob of one lesion class inside benign tissue — the same picture a
slide gives at 2.5×, with a known grade and lesion mask at every pixel. Canvases are cropped
at random offsets, so the network never learns the tile grid. Training canvases use the
training split's tiles only; the validation canvases choose the objectness thresholds (one
that keeps 98 % of lesion tiles for the candidates, a lower one that keeps 99.5 % for the
neighbours of a candidate graded with it); the test canvases are scored once, at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from torch import nn
from torch.nn import functional
from tqdm import tqdm

from pathodesk import __version__
from pathodesk.ml.cascade_nets import COARSE_ARCH, COARSE_CELL_PX, COARSE_STRIDE, CoarseAttentionNet
from pathodesk.ml.data import DataError, LabelledSet, Sample, apply_dihedral, load_rgb
from pathodesk.ml.model_file import save_model
from pathodesk.ml.model_folder import CARD_FILE, MODEL_FILE, write_log
from pathodesk.ml.model_pictures import write_pictures
from pathodesk.ml.pipeline import Normalization, dominant_stain

GLASS = -1  # grade of a glass pixel: no grade is learnt there
TARGET_RECALL = 0.98  # of lesion tiles, on the validation canvases (issue 14, item 6)
MARGIN_RECALL = 0.995  # a flagged tile's neighbours are graded too when they reach this one's threshold


@dataclass
class CoarseConfig:
    steps: int = 4000
    batch_size: int = 12
    lr: float = 2e-3
    grid: int = 8  # tiles per canvas edge
    crop_px: int = 160  # of the canvas's grid * 28 px, at a random offset
    seed: int = 0
    threads: int = 2
    fine_image_px: int = 224  # the fine model's input: what one cell stands for


@dataclass(frozen=True)
class Cells:
    """Tiles shrunk to their low-power footprint, with each one's coarse grade index."""

    pixels: np.ndarray  # (n, 28, 28, 3) uint8
    grades: np.ndarray  # (n,) int64


def shrink(samples: Sequence[Sample], grade_of_label: list[int], fine_image_px: int) -> Cells:
    """Each sample read as the fine model reads it, then shrunk as a pyramid level would be."""
    pixels = np.stack(
        [
            cv2.resize(
                load_rgb(s, fine_image_px), (COARSE_CELL_PX, COARSE_CELL_PX), interpolation=cv2.INTER_AREA
            )
            for s in tqdm(samples, desc="shrinking tiles", leave=False)
        ]
    )
    return Cells(pixels, np.array([grade_of_label[s.label] for s in samples], np.int64))


def _blob(rng: np.random.Generator, size: int, fill: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    mask = np.zeros((size, size), bool)
    cy, cx = rng.uniform(0.2, 0.8, 2) * size
    for _ in range(3):
        ry, rx = size * fill * rng.uniform(0.5, 1.0, 2)
        oy, ox = cy + rng.uniform(-0.5, 0.5) * ry, cx + rng.uniform(-0.5, 0.5) * rx
        mask |= ((yy + 0.5 - oy) / ry) ** 2 + ((xx + 0.5 - ox) / rx) ** 2 <= 1
    return mask


def canvas(rng: np.random.Generator, cells: Cells, grid: int, crop_px: int) -> tuple[np.ndarray, np.ndarray]:
    """One low-power picture (crop_px², uint8) and its grade per pixel (``GLASS`` on glass)."""
    tissue = _blob(rng, grid, rng.uniform(0.4, 0.9))
    lesion_grades = sorted(set(cells.grades.tolist()) - {0})
    lesion = (
        _blob(rng, grid, rng.uniform(0.1, 0.45)) & tissue if rng.random() < 0.8 else np.zeros_like(tissue)
    )
    lesion_grade = rng.choice(lesion_grades)
    side = grid * COARSE_CELL_PX
    image = (np.full((side, side, 3), 238.0) + rng.normal(0, 1.5, (side, side, 1))).astype(np.uint8)
    truth = np.full((side, side), GLASS, np.int64)
    pools = {grade: np.flatnonzero(cells.grades == grade) for grade in (0, *lesion_grades)}
    for row, col in zip(*np.nonzero(tissue), strict=True):
        grade = lesion_grade if lesion[row, col] else 0
        tile = cells.pixels[rng.choice(pools[grade])]
        y, x = row * COARSE_CELL_PX, col * COARSE_CELL_PX
        image[y : y + COARSE_CELL_PX, x : x + COARSE_CELL_PX] = apply_dihedral(tile, int(rng.integers(8)))
        truth[y : y + COARSE_CELL_PX, x : x + COARSE_CELL_PX] = grade
    top, left = rng.integers(0, side - crop_px + 1, 2)
    return image[top : top + crop_px, left : left + crop_px], truth[
        top : top + crop_px, left : left + crop_px
    ]


def to_input(images: np.ndarray, normalization: Normalization) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(normalization.mean).view(1, 3, 1, 1)
    std = torch.tensor(normalization.std).view(1, 3, 1, 1)
    return (tensor - mean) / std


def _batch(
    rng: np.random.Generator, cells: Cells, config: CoarseConfig, normalization: Normalization
) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = [canvas(rng, cells, config.grid, config.crop_px) for _ in range(config.batch_size)]
    images = to_input(np.stack([p[0] for p in pairs]), normalization)
    centre = COARSE_STRIDE // 2  # an output position stands for the pixel at its centre
    truth = torch.from_numpy(np.stack([p[1][centre::COARSE_STRIDE, centre::COARSE_STRIDE] for p in pairs]))
    return images, truth


def coarse_loss(grade_logits: torch.Tensor, attention: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Grade cross-entropy on tissue, plus objectness (lesion vs. benign tissue or glass)."""
    grade = functional.cross_entropy(grade_logits, truth, ignore_index=GLASS)
    objectness = functional.binary_cross_entropy_with_logits(attention[:, 0], (truth > 0).float())
    return grade + objectness


def cell_scores(
    model: nn.Module, images: np.ndarray, normalization: Normalization
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of a low-power picture: objectness (n, rows, cols) and grade probabilities
    (n, grades, rows, cols), each the mean over the cell's output positions."""
    with torch.inference_mode():
        grade_logits, attention = model(to_input(images, normalization))
    per_cell = COARSE_CELL_PX // COARSE_STRIDE
    objectness = functional.avg_pool2d(torch.sigmoid(attention), per_cell, ceil_mode=True)[:, 0]
    grades = functional.avg_pool2d(torch.softmax(grade_logits, 1), per_cell, ceil_mode=True)
    return objectness.numpy(), grades.numpy()


@dataclass(frozen=True)
class CanvasScores:
    objectness: np.ndarray  # per tissue cell
    lesion: np.ndarray  # bool, per tissue cell
    predicted_grade: np.ndarray
    true_grade: np.ndarray


def score_canvases(
    model: nn.Module, cells: Cells, normalization: Normalization, count: int, seed: int, grid: int
) -> CanvasScores:
    """Canvases of one split cut at a random offset, so that analysis tiles straddle source
    tiles as they straddle a real lesion's edge: every tissue tile's scores and truth. A tile
    is tissue, or lesion, when at least half of it is; its grade is its tissue's majority."""
    rng = np.random.default_rng(seed)
    side, cell = grid * COARSE_CELL_PX, COARSE_CELL_PX
    objectness, lesion, predicted, true = [], [], [], []
    model.eval()
    for _ in range(count):
        image, truth = canvas(rng, cells, grid + 1, side)  # cropped one tile short, anywhere
        blocks = truth.reshape(grid, cell, grid, cell).transpose(0, 2, 1, 3).reshape(grid * grid, -1)
        tissue = (blocks != GLASS).mean(axis=1) >= 0.5
        scores, grades = cell_scores(model, image[None], normalization)
        objectness.append(scores[0].reshape(-1)[tissue])
        lesion.append((blocks[tissue] > 0).mean(axis=1) >= 0.5)
        predicted.append(grades[0].reshape(len(grades[0]), -1).argmax(0)[tissue])
        true.append(np.array([np.bincount(b[b != GLASS]).argmax() for b in blocks[tissue]], np.int64))
    return CanvasScores(*(np.concatenate(parts) for parts in (objectness, lesion, predicted, true)))


def recall_threshold(scores: CanvasScores, recall: float = TARGET_RECALL) -> float:
    """The highest objectness threshold that still keeps ``recall`` of the lesion cells."""
    positives = np.sort(scores.objectness[scores.lesion])
    if not len(positives):
        raise DataError("the validation canvases hold no lesion cells to set a threshold on")
    return float(positives[int(np.floor((1 - recall) * len(positives)))])


def canvas_metrics(scores: CanvasScores, threshold: float) -> dict[str, float | int]:
    flagged = scores.objectness >= threshold
    lesion = scores.lesion
    return {
        "tissue_cells": len(lesion),
        "lesion_cells": int(lesion.sum()),
        "lesion_recall": round(float(flagged[lesion].mean()), 4) if lesion.any() else float("nan"),
        "benign_flagged": round(float(flagged[~lesion].mean()), 4) if (~lesion).any() else float("nan"),
        "grade_accuracy": round(float((scores.predicted_grade == scores.true_grade).mean()), 4),
        "balanced_accuracy": round(
            float(balanced_accuracy_score(scores.true_grade, scores.predicted_grade)), 4
        ),
    }


def _describe(data: LabelledSet, samples: list[Sample]) -> dict[str, object]:
    subset = LabelledSet(data.labels, samples)
    return {"images": len(samples), "groups": len({s.group for s in samples}), "per_class": subset.counts()}


def train_coarse(
    splits: dict[str, list[Sample]],
    data: LabelledSet,
    grade_names: list[str],
    grade_of_label: list[int],
    out_dir: Path,
    config: CoarseConfig,
    *,
    disease_type: str,
    notes: list[str],
    progress: bool = True,
) -> dict[str, object]:
    """Train, set the threshold on validation canvases, score test canvases, write the run."""
    present = {grade_of_label[s.label] for s in splits["train"]}
    if 0 not in present or present == {0}:
        raise DataError(
            "a coarse model learns where lesions are: its training tiles need the first grade"
            " (%(first)s) and at least one other",
            first=grade_names[0],
        )
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    cells = {name: shrink(part, grade_of_label, config.fine_image_px) for name, part in splits.items()}
    flat = cells["train"].pixels.reshape(-1, 3) / 255.0
    mean, std = flat.mean(0).tolist(), flat.std(0).tolist()
    normalization = Normalization((mean[0], mean[1], mean[2]), (std[0], std[1], std[2]))
    model = CoarseAttentionNet(len(grade_names))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.steps)
    rng = np.random.default_rng(config.seed)
    history = []
    model.train()
    with tqdm(total=config.steps, desc="coarse model", disable=not progress) as bar:
        for step in range(1, config.steps + 1):
            images, truth = _batch(rng, cells["train"], config, normalization)
            optimizer.zero_grad(set_to_none=True)
            grade_logits, attention = model(images)
            loss = coarse_loss(grade_logits, attention, truth)
            loss.backward()
            optimizer.step()
            schedule.step()
            history.append({"step": step, "loss": float(loss.detach())})
            bar.update(1)
            bar.set_postfix(loss=f"{history[-1]['loss']:.3f}")
    model.eval()
    validation = score_canvases(model, cells["validation"], normalization, 40, config.seed + 1, 16)
    threshold = recall_threshold(validation)
    margin_threshold = min(threshold, recall_threshold(validation, MARGIN_RECALL))
    test = score_canvases(model, cells["test"], normalization, 40, config.seed + 2, 16)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_model(out_dir / MODEL_FILE, model, COARSE_ARCH, grade_names, normalization, COARSE_CELL_PX)
    write_log(history, out_dir)
    card: dict[str, object] = {
        "arch": COARSE_ARCH,
        "role": "coarse",
        "disease_type": disease_type,
        "labels": grade_names,
        "parameters": sum(p.numel() for p in model.parameters()),
        "input": {
            "image_px": COARSE_CELL_PX,
            "cell_px": COARSE_CELL_PX,
            "fine_image_px": config.fine_image_px,
            "mean": list(normalization.mean),
            "std": list(normalization.std),
            "channels": "RGB, scaled to [0, 1], then (x - mean) / std per channel",
            "scale": f"one fine tile ({config.fine_image_px} px) = {COARSE_CELL_PX} px"
            ": 2.5x for a 20x fine model",
        },
        "objectness_threshold": round(threshold, 5),
        "margin_threshold": round(margin_threshold, 5),
        "data": notes[0] if notes else "",
        "stain": dominant_stain(list(cells["train"].pixels)),
        "splits": {name: _describe(data, part) for name, part in splits.items()},
        "validation": canvas_metrics(validation, threshold),
        "test": {**canvas_metrics(test, threshold), "canvases": 40, "grid": 16, "steps": config.steps},
        "training": {
            **asdict(config),
            "seconds": round(time.perf_counter() - started, 1),
            "pathodesk": __version__,
        },
        "notes": notes,
    }
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=2))
    write_pictures(out_dir)
    return card
