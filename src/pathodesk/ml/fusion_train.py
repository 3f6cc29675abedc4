"""Training the multi-stain classifier (SPEC D4–D6; issue 16, item 3) with the same epoch
loop as every model (``train.fit``: best validation epoch, patience, step schedule), Adam
instead of SGD (the seed names no optimiser; a 13-million-weight net from a random start
on a few thousand patches settles far sooner with it), and the same card, curves and
confusion picture, so the registry takes it like any model (role ``fusion``).

The model file holds, besides the weights, what inference needs to see as training saw:
the stains in order, each stain's reference colours, the channel statistics and the patch
size and resolution.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from pathodesk import __version__
from pathodesk.ml.fusion_data import StainNormalization, StainStack, augmented, centre_patches
from pathodesk.ml.fusion_model import save_fusion_model, stain_weights
from pathodesk.ml.fusion_nets import StainFusionNet, fusion_arch
from pathodesk.ml.metrics import classification_metrics
from pathodesk.ml.model_folder import CARD_FILE, MODEL_FILE, write_log
from pathodesk.ml.model_pictures import write_pictures
from pathodesk.ml.nets import build_model, count_parameters
from pathodesk.ml.train import TrainConfig, fit


@dataclass
class FusionConfig:
    stains: tuple[str, ...]
    methods: tuple[str | None, ...]  # per stain: colour normalization (macenko, …) or None
    patch_px: int = 28  # D4
    microns_per_px: float | None = None  # of the patches, when the source says
    backbone: str | None = None  # a timm name instead of the seed's branch
    # each stain silenced with this probability in training (StainFusionNet._kept_stains):
    # chosen among 0 / 0.25 (with or without per-branch losses) on the validation parts of
    # DeepLIIF's five region splits, 0.888 → 0.904 balanced accuracy; the test parts unseen
    stain_dropout: float = 0.25
    epochs: int = 30
    lr: float = 1e-3
    lr_step_epochs: int = 10
    lr_gamma: float = 0.1
    weight_decay: float = 1e-4
    batch_size: int = 128
    patience: int = 6
    seed: int = 0
    max_steps_per_epoch: int | None = None
    threads: int = field(default=2)


class StackBatches:
    """Batches of (stacks, labels) from tensors in memory; shuffled anew each pass when
    training (seeded: the same run gives the same batches)."""

    def __init__(
        self, inputs: torch.Tensor, labels: torch.Tensor, size: int, shuffle: bool, seed: int = 0
    ) -> None:
        self.inputs, self.labels, self.size, self.shuffle = inputs, labels, size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.labels) // self.size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = (
            torch.randperm(len(self.labels), generator=self.generator)
            if self.shuffle
            else torch.arange(len(self.labels))
        )
        for start in range(0, len(order), self.size):
            chosen = order[start : start + self.size]
            yield self.inputs[chosen], self.labels[chosen]


def balanced(labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices with every class topped up to the largest by repeats (their augmented
    versions differ already), so a rare class weighs as much in the loss."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels)
    indices = [np.flatnonzero(labels == label) for label in range(len(counts)) if counts[label]]
    largest = max(len(members) for members in indices)
    topped = [np.concatenate([members, rng.choice(members, largest - len(members))]) for members in indices]
    return np.concatenate(topped)


def training_tensors(
    stacks: Sequence[StainStack], normalization: StainNormalization, patch_px: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """D4: five augmented samples a patch, classes balanced."""
    rng = np.random.default_rng(seed)
    patches = np.concatenate([augmented(stack, patch_px, rng) for stack in stacks])
    labels = np.repeat([stack.label for stack in stacks], 5)
    keep = balanced(labels, seed)
    return normalization.tensor(patches[keep]), torch.from_numpy(labels[keep]).long()


def plain_tensors(
    stacks: Sequence[StainStack], normalization: StainNormalization, patch_px: int
) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.tensor([stack.label for stack in stacks], dtype=torch.long)
    return normalization.tensor(centre_patches(stacks, patch_px)), labels


@dataclass
class FusionRun:
    model: StainFusionNet
    normalization: StainNormalization
    history: list[dict[str, float]]
    best_epoch: int
    test: dict[str, object] | None
    test_probabilities: np.ndarray | None  # (n, classes)
    test_weights: np.ndarray | None  # (n, stains): SE weights per test patch
    seconds: float


def train_fusion(
    splits: dict[str, list[StainStack]], labels: list[str], config: FusionConfig, progress: bool = False
) -> FusionRun:
    """Fit on ``train``, keep the best ``validation`` epoch, score ``test`` once."""
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    normalization = StainNormalization.fit(splits["train"], config.methods, config.patch_px)
    recoloured = {name: normalization.recoloured(stacks) for name, stacks in splits.items()}
    train_inputs, train_labels = training_tensors(
        recoloured["train"], normalization, config.patch_px, config.seed
    )
    val_inputs, val_labels = plain_tensors(recoloured["validation"], normalization, config.patch_px)
    model = build_model(fusion_arch(len(config.stains), config.backbone), len(labels))
    assert isinstance(model, StainFusionNet)
    model.stain_dropout = config.stain_dropout
    loop = TrainConfig(
        epochs=config.epochs,
        lr=config.lr,
        lr_step_epochs=config.lr_step_epochs,
        lr_gamma=config.lr_gamma,
        patience=config.patience,
        seed=config.seed,
        max_steps_per_epoch=config.max_steps_per_epoch,
        threads=config.threads,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history, best_epoch = fit(
        model,
        StackBatches(train_inputs, train_labels, config.batch_size, True, config.seed),
        StackBatches(val_inputs, val_labels, 256, False),
        labels,
        loop,
        progress,
        optimizer,
    )
    test = probabilities = weights = None
    if splits.get("test"):
        test_inputs, test_labels = plain_tensors(recoloured["test"], normalization, config.patch_px)
        probabilities, weights = stain_weights(model, test_inputs)
        test = classification_metrics(test_labels.numpy(), probabilities.argmax(1), labels)
    return FusionRun(
        model, normalization, history, best_epoch, test, probabilities, weights, time.perf_counter() - started
    )


def save_fusion_run(
    run: FusionRun,
    splits: dict[str, list[StainStack]],
    labels: list[str],
    config: FusionConfig,
    out_dir: Path,
    *,
    disease_type: str,
    data_description: str,
    notes: Sequence[str] = (),
) -> dict[str, object]:
    """The run as a registry folder: model file, card, log, curves, confusion picture."""
    out_dir.mkdir(parents=True, exist_ok=True)
    arch = fusion_arch(len(config.stains), config.backbone)
    save_fusion_model(
        out_dir / MODEL_FILE,
        run.model,
        arch,
        labels,
        list(config.stains),
        run.normalization,
        config.patch_px,
        config.microns_per_px,
    )
    write_log(run.history, out_dir)

    def describe(stacks: list[StainStack]) -> dict[str, object]:
        counts = (
            np.bincount([s.label for s in stacks], minlength=len(labels)) if stacks else np.zeros(len(labels))
        )
        return {
            "patches": len(stacks),
            "groups": len({s.group for s in stacks}),
            "patients": len(
                {s.group for s in stacks}
            ),  # a group is a patient (pair, slide) unless the data says finer
            "per_class": {label: int(count) for label, count in zip(labels, counts, strict=True)},
        }

    card: dict[str, object] = {
        "arch": arch,
        "role": "fusion",
        "disease_type": disease_type,
        "data": data_description,
        "notes": list(notes),
        "parameters": count_parameters(run.model),
        "labels": labels,
        "stains": list(config.stains),
        "input": {
            "image_px": config.patch_px,
            "microns_per_px": config.microns_per_px,
            "colour_normalization": dict(zip(config.stains, config.methods, strict=True)),
        },
        "splits": {name: describe(stacks) for name, stacks in splits.items()}
        | {"grouped_by": "no patient in two splits"},
        "training": {
            **{k: v for k, v in asdict(config).items() if k != "threads"},
            "epochs_run": len(run.history),
            "best_epoch": run.best_epoch,
            "seconds": round(run.seconds, 1),
            "optimizer": "Adam",
            "torch": torch.__version__,
            "pathodesk": __version__,
        },
        "validation": {
            k: round(v, 4) for k, v in run.history[run.best_epoch - 1].items() if k.startswith("val_")
        },
        "test": run.test,
    }
    text = json.dumps(card, indent=2)
    (out_dir / CARD_FILE).write_text(text)
    write_pictures(out_dir)
    return dict(json.loads(text))
