"""Train the cascade's shipped models (issue 14, item 5) into src/pathodesk/shipped_models/.

    .venv/bin/python scripts/train_cascade.py lung [--steps N --epochs N --out DIR]

Both stages use the *same* split as the shipped lung tile model (its ``splits.csv``: LC25000
grouped by source image), so mosaics built from that model's test split are unseen by all
three models.
coarse: ``ml.coarse_train`` on low-power canvases of the training split's tiles.
fine: a feature pyramid over mobilenetv3_small_100, its backbone started from the shipped
tile model (trained on the same training split), trained by the standard trainer.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from pathodesk.ml.coarse_train import CoarseConfig, train_coarse
from pathodesk.ml.data import LabelledSet, Sample
from pathodesk.ml.grades import DEFAULT_SCALES
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("disease_type", choices=("lung",))
    parser.add_argument("--steps", type=int, default=4000, help="coarse model training steps")
    parser.add_argument("--epochs", type=int, default=12, help="fine model epochs")
    parser.add_argument("--only", choices=("coarse", "fine"), default=None)
    parser.add_argument("--out", type=Path, default=SHIPPED)
    args = parser.parse_args()
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
