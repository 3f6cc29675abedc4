"""Train the cascade's shipped models (issue 14, item 5) into src/pathodesk/shipped_models/.

    .venv/bin/python scripts/train_cascade.py lung|thyroid [--steps N --epochs N --out DIR]

lung: both stages use the *same* split as the shipped lung tile model (its ``splits.csv``:
LC25000 grouped by source image), so mosaics built from that model's test split are unseen
by all three models.
coarse: ``ml.coarse_train`` on low-power canvases of the training split's tiles.
fine: a feature pyramid over mobilenetv3_small_100, its backbone started from the shipped
tile model (trained on the same training split), trained by the standard trainer.

thyroid: six slides (ThyHisTer demo), one label per slide (BN, FTC, PTC; one PTC slide
only). The fine model is scored leave-one-slide-out: six models, each trained on five
slides (backbone started from the lung tile model, so no thyroid slide leaks in) and scored
on the sixth; the shipped one is trained on all six with the same recipe, its card holding
the six held-out results. The coarse model trains on BN_1, BN_2, FTC_1 and PTC_1 and is
scored on canvases of BN_31 and FTC_12 (the malignant grade has no second slide to be
scored on).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

from pathodesk.ml.coarse_train import CoarseConfig, train_coarse
from pathodesk.ml.data import LabelledSet, Sample
from pathodesk.ml.grades import DEFAULT_SCALES
from pathodesk.ml.metrics import classification_metrics
from pathodesk.ml.model_pictures import write_pictures
from pathodesk.ml.train import Splits, TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
SHIPPED = ROOT / "src" / "pathodesk" / "shipped_models"
NOTES = [
    "Data: LC25000 lung subset (../shared/data/lc25000-lung-224), the split of the shipped lung tile "
    "model (grouped by source image; see its card: near-copies may still straddle splits).",
]


def tile_model_splits(source: Path, splits_csv: Path) -> tuple[LabelledSet, Splits]:
    labels: list[str] = []
    rows = []
    with splits_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = sorted({row["label"] for row in rows})
    parts: dict[str, list[Sample]] = {"train": [], "validation": [], "test": []}
    for row in rows:
        parts[row["split"]].append(Sample(source / row["path"], labels.index(row["label"]), row["group"]))
    every = parts["train"] + parts["validation"] + parts["test"]
    return LabelledSet(labels, every), Splits(**parts)


THYROID_LABELS = ["BN", "FTC", "PTC"]
THYROID_NOTES = [
    "Data: ThyHisTer demo patches (../shared/data/thyhister-thyroid), 6 slides (3 BN, 2 FTC, 1 PTC), "
    "304 px resized to 224; each patch takes its slide's class (a weak label: carcinoma slides hold "
    "normal tissue too).",
    "Test: leave one slide out over the six (six models, each scored on the slide it never saw); the "
    "metrics are pooled over the six held-out slides, per slide in leave_one_slide_out. With one PTC "
    "slide, its fold trains without any PTC: that slide cannot be called right. Weak: do not lean on it.",
]


def thyroid_slides() -> tuple[LabelledSet, dict[str, list[Sample]]]:
    source = SHARED / "thyhister-thyroid"
    by_slide: dict[str, list[Sample]] = {}
    with (source / "labels.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            sample = Sample(source / row["path"], THYROID_LABELS.index(row["slide_class"]), row["path"])
            by_slide.setdefault(row["slide_id"], []).append(sample)
    every = [s for part in by_slide.values() for s in part]
    return LabelledSet(THYROID_LABELS, every), by_slide


def patch_validation(samples: list[Sample], seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """15 % of each training slide's patches pick the epoch (optimistic, as patches of one
    slide look alike, but it never sees a held-out slide)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not a secret
    shuffled = samples[:]
    rng.shuffle(shuffled)
    cut = max(1, round(0.15 * len(shuffled)))
    return shuffled[cut:], shuffled[:cut]


def thyroid_config(epochs: int) -> TrainConfig:
    return TrainConfig(
        arch="fpn-mobilenetv3_small_100",
        epochs=epochs,
        lr=0.005,
        lr_step_epochs=5,
        patience=5,
        init_from=str(SHIPPED / "lung" / "model.pt"),
    )


def thyroid_fine(out: Path, epochs: int) -> dict[str, object]:
    data, by_slide = thyroid_slides()
    rows, truth, predicted = [], [], []
    for held_out in sorted(by_slide):
        rest = [s for slide, part in by_slide.items() if slide != held_out for s in part]
        train_part, validation = patch_validation(rest)
        test = by_slide[held_out]
        with tempfile.TemporaryDirectory() as run:
            card = train(
                data, Path(run), thyroid_config(epochs), disease_type="thyroid", data_description="",
                splits=Splits(train_part, validation, test), progress=False, role="fine",
            ).card  # fmt: skip
        confusion = np.array(card["test"]["confusion_matrix"])  # type: ignore[index]
        label = test[0].label
        counts = confusion[label]
        rows.append(
            {
                "slide": held_out,
                "class": THYROID_LABELS[label],
                "patches": len(test),
                "patch_accuracy": round(float(counts[label] / counts.sum()), 4),
                "slide_call": THYROID_LABELS[int(counts.argmax())],
            }
        )
        truth += [label] * int(counts.sum())
        predicted += [c for c, n in enumerate(counts) for _ in range(int(n))]
        print(f"thyroid fine, {held_out} held out: {rows[-1]}", file=sys.stderr)
    pooled = classification_metrics(np.array(truth), np.array(predicted), THYROID_LABELS)
    every = [s for part in by_slide.values() for s in part]
    train_part, validation = patch_validation(every)
    result = train(
        data, out, thyroid_config(epochs), disease_type="thyroid", data_description=THYROID_NOTES[0],
        splits=Splits(train_part, validation, []), notes=THYROID_NOTES, role="fine",
    )  # fmt: skip
    card = {**result.card, "test": pooled, "leave_one_slide_out": rows}
    (out / "card.json").write_text(json.dumps(card, indent=2))
    write_pictures(out)  # the confusion matrix of the slides held out, not of the empty test split
    return card


def thyroid_coarse(out: Path, steps: int) -> dict[str, object]:
    data, by_slide = thyroid_slides()
    training = [s for slide in ("BN_1", "BN_2", "FTC_1", "PTC_1") for s in by_slide[slide]]
    train_part, validation = patch_validation(training)
    test = by_slide["BN_31"] + by_slide["FTC_12"]
    scale = DEFAULT_SCALES["thyroid"]
    return train_coarse(
        {"train": train_part, "validation": validation, "test": test},
        data,
        scale.names,
        [scale.severity(scale.grade_of(label)) for label in data.labels],
        out,
        CoarseConfig(steps=steps),
        disease_type="thyroid",
        notes=[
            THYROID_NOTES[0],
            "Trained on BN_1, BN_2, FTC_1, PTC_1 (15 % of their patches set the thresholds); scored on "
            "canvases of BN_31 (benign) and FTC_12 (suspicious) only: no second PTC slide exists.",
            f"Trained by scripts/train_cascade.py thyroid --steps {steps}.",
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("disease_type", choices=("lung", "thyroid"))
    parser.add_argument("--steps", type=int, default=4000, help="coarse model training steps")
    parser.add_argument("--epochs", type=int, default=12, help="fine model epochs")
    parser.add_argument("--only", choices=("coarse", "fine"), default=None)
    parser.add_argument("--out", type=Path, default=SHIPPED)
    args = parser.parse_args()
    if args.disease_type == "thyroid":
        if args.only in (None, "fine"):
            card = thyroid_fine(args.out / "thyroid-fine", args.epochs)
            print(f"thyroid fine: pooled {card['test']}", file=sys.stderr)
        if args.only in (None, "coarse"):
            card = thyroid_coarse(args.out / "thyroid-coarse", args.steps)
            print(f"thyroid coarse: test {card['test']}", file=sys.stderr)
        return 0
    tile_model = SHIPPED / args.disease_type
    data, splits = tile_model_splits(SHARED / "lc25000-lung-224", tile_model / "splits.csv")
    scale = DEFAULT_SCALES[args.disease_type]
    if args.only in (None, "coarse"):
        grade_of_label = [scale.severity(scale.grade_of(label)) for label in data.labels]
        card = train_coarse(
            {"train": splits.train, "validation": splits.validation, "test": splits.test},
            data,
            scale.names,
            grade_of_label,
            args.out / f"{args.disease_type}-coarse",
            CoarseConfig(steps=args.steps),
            disease_type=args.disease_type,
            notes=[*NOTES, f"Trained by scripts/train_cascade.py {args.disease_type} --steps {args.steps}."],
        )
        print(f"coarse: test {card['test']}", file=sys.stderr)
    if args.only in (None, "fine"):
        config = TrainConfig(
            arch="fpn-mobilenetv3_small_100",
            epochs=args.epochs,
            lr=0.005,
            lr_step_epochs=5,
            patience=5,
            init_from=str(tile_model / "model.pt"),
        )
        result = train(
            data,
            args.out / f"{args.disease_type}-fine",
            config,
            disease_type=args.disease_type,
            data_description=NOTES[0],
            splits=splits,
            notes=[
                *NOTES,
                f"Trained by scripts/train_cascade.py {args.disease_type} --epochs {args.epochs}.",
            ],
            role="fine",
        )
        print(f"fine: test {result.card['test']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
