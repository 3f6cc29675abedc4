"""The multi-stain classifier against the best single stain (SPEC D4–D6; issue 16, item 4).

Two data sets of registered stains, each split 6:2:2 by patient (or, where there are too few
patients, by region) several times with the patients rotated through the test part; on
every split the fused network and one network per single stain — the same branch, the same
patches, the same epochs, the same seed — trained on train, its epoch chosen on
validation, scored once on test:

Each patient (or region) is in the test part of exactly one of five splits, so the pooled
test predictions cover every patient once.

- BCI (``bci-mist-he-ihc-her2``): 12 breast-cancer pairs of H&E and HER2 IHC, HER2 score
  0 / 1+ / 2+ / 3+ of the slide each came from (a weak label every patch inherits); a pair
  is a patient; at most 120 patches a pair, evenly drawn. The patch resolution (28 px at 1/2
  or 1/4 of the scan) is chosen on the validation part of the first split, never on test.
- DeepLIIF (``deepliif-ki67-ihc-mpif``): every nucleus of the two six-panel images, Ki67
  positive or negative by the multiplex-IF Ki67 panel (the label, never an input); inputs
  Ki67 IHC, its hematoxylin channel, DAPI and LAP2β. Only two patients exist, so the 6:2:2
  splits are by 128-px region and say nothing across patients; a leave-one-patient-out
  round (train and validate on one image, test on the other) is reported beside them.

Per model: accuracy, balanced accuracy, per-class F1 on the test patches, a 95 % interval
of the balanced accuracy by bootstrap over the test patients (or regions) — with two or
three test patients it is wide, and it says so — then mean ± spread over the splits, and the
fused network's SE stain weights per true class. The last line is API.md's result line:
fused balanced accuracy over the best single stain's (mean over the splits, BCI).

    .venv/bin/python bench/fusion.py [--splits 3] [--epochs 12] [--datasets bci deepliif]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage
from sklearn.metrics import balanced_accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import result_line
from pathodesk.ml.data import group_split, rotated_group_splits
from pathodesk.ml.fusion_data import StainStack, grid_stacks, stacks_at
from pathodesk.ml.fusion_train import FusionConfig, train_fusion

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
BOOTSTRAP = 1000
REGION_PX = 128
PATCHES_PER_PAIR = 120  # evenly drawn: a pair's patches share its one label, more add little but time


@dataclass
class Dataset:
    name: str
    stains: tuple[str, ...]
    methods: tuple[str | None, ...]
    labels: list[str]
    stacks: list[StainStack]
    patients: int
    split_unit: str


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def bci(downsample: int) -> Dataset:
    root = SHARED_DATA / "bci-mist-he-ihc-her2"
    rows = [row for row in csv.DictReader((root / "pairs.csv").open()) if row["dataset"] == "BCI"]
    stacks: list[StainStack] = []
    for row in rows:
        images = [rgb(root / row[column]) for column in ("he_path", "ihc_path")]
        size = (images[0].shape[1] // downsample, images[0].shape[0] // downsample)
        small = [cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in images]
        pair = grid_stacks(small, int(row["her2_index"]), row["pair_id"], 28)
        stacks += pair[:: max(1, len(pair) // PATCHES_PER_PAIR)][:PATCHES_PER_PAIR]
    return Dataset(
        f"BCI HER2 (1/{downsample} of the scan)",
        ("H&E", "HER2 IHC"),
        ("macenko", "macenko-vectors"),
        ["her2_0", "her2_1", "her2_2", "her2_3"],
        stacks,
        len(rows),
        "pair (patient)",
    )


def nuclei(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (x, y) and labels (1 positive, 0 negative) of the mask's red and blue nuclei."""
    centres, labels = [], []
    for label, channel in ((1, 0), (0, 2)):
        others = [c for c in (0, 1, 2) if c != channel]
        region = (mask[..., channel] > 128) & (mask[..., others] < 100).all(axis=2)
        parts, count = ndimage.label(region, structure=np.ones((3, 3)))
        sizes = np.bincount(parts.ravel())[1:]
        for index, (y, x) in enumerate(ndimage.center_of_mass(region, parts, range(1, count + 1))):
            if sizes[index] >= 50:  # specks of the mask's drawing are not cells
                centres.append((x, y))
                labels.append(label)
    return np.asarray(centres, np.float64), np.asarray(labels)


def deepliif() -> Dataset:
    root = SHARED_DATA / "deepliif-ki67-ihc-mpif" / "six_panel"
    stacks: list[StainStack] = []
    names = sorted(path.stem for path in root.glob("*.png"))
    for name in names:
        panels = np.split(rgb(root / f"{name}.png"), 6, axis=1)
        inputs = [panels[0], panels[1], panels[2], panels[3]]  # IHC, hematoxylin, DAPI, LAP2β
        centres, labels = nuclei(panels[5])
        for (x, y), label in zip(centres, labels, strict=True):
            group = f"{name}/r{int(y) // REGION_PX}c{int(x) // REGION_PX}"
            stacks += stacks_at(inputs, np.array([[x, y]]), [int(label)], group, 28)
    return Dataset(
        "DeepLIIF Ki67 (full resolution)",
        ("Ki67 IHC", "hematoxylin", "DAPI", "LAP2β"),
        ("macenko-vectors", None, None, None),
        ["ki67_negative", "ki67_positive"],
        stacks,
        len(names),
        f"{REGION_PX}-px region",
    )


def only(stacks: list[StainStack], stains: tuple[int, ...]) -> list[StainStack]:
    return [StainStack(stack.windows[list(stains)], stack.label, stack.group) for stack in stacks]


@dataclass
class Scored:
    """One model on one split's test part."""

    truth: np.ndarray
    predicted: np.ndarray
    clusters: np.ndarray  # "split:patient" of each patch: the unit the bootstrap resamples
    weights: np.ndarray  # (patches, stains) SE weights

    @property
    def balanced(self) -> float:
        return float(balanced_accuracy_score(self.truth, self.predicted))


def pooled(rows: list[Scored]) -> Scored:
    return Scored(
        *(
            np.concatenate([getattr(row, name) for row in rows])
            for name in ("truth", "predicted", "clusters", "weights")
        )
    )


def interval(scored: Scored, seed: int = 0) -> tuple[float, float]:
    """95 % bootstrap interval of the balanced accuracy, test patients resampled."""
    names = np.unique(scored.clusters)
    members = {name: np.flatnonzero(scored.clusters == name) for name in names}
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(BOOTSTRAP):
        chosen = np.concatenate([members[name] for name in rng.choice(names, len(names))])
        if len(np.unique(scored.truth[chosen])) > 1:
            scores.append(balanced_accuracy_score(scored.truth[chosen], scored.predicted[chosen]))
    if not scores:
        return float("nan"), float("nan")
    low, high = np.percentile(scores, [2.5, 97.5])
    return float(low), float(high)


def evaluate(
    data: Dataset,
    config: FusionConfig,
    splits: list[dict[str, list[StainStack]]],
    backbone: str | None = None,
) -> dict[str, list[Scored]]:
    """Every model on every split: the fused one first, then each stain alone, then (with a
    ``backbone``) the fused one over that timm backbone per stain instead of the seed's branch."""
    everything = tuple(range(len(data.stains)))
    models: dict[str, tuple[tuple[int, ...], str | None]] = {"fused (SE)": (everything, None)}
    models |= {f"{stain} only": ((index,), None) for index, stain in enumerate(data.stains)}
    if backbone:
        models[f"fused (SE), {backbone} branches"] = (everything, backbone)
    results: dict[str, list[Scored]] = {name: [] for name in models}
    for number, split in enumerate(splits):
        for name, (stains, branch) in models.items():
            chosen = {part: only(stacks, stains) for part, stacks in split.items()}
            run = train_fusion(
                chosen,
                data.labels,
                replace(
                    config,
                    stains=tuple(data.stains[i] for i in stains),
                    methods=tuple(data.methods[i] for i in stains),
                    backbone=branch,
                ),
            )
            assert run.test_probabilities is not None and run.test_weights is not None
            scored = Scored(
                np.array([stack.label for stack in chosen["test"]]),
                run.test_probabilities.argmax(1),
                np.array([f"{number}:{stack.group}" for stack in chosen["test"]]),
                run.test_weights,
            )
            results[name].append(scored)
            print(
                f"  split {number + 1} {name}: balanced accuracy {scored.balanced:.3f},"
                f" {len(np.unique(scored.clusters))} test {data.split_unit}s"
                f" (best epoch {run.best_epoch}, {run.seconds:.0f} s)",
                flush=True,
            )
    return results


def table(data: Dataset, results: dict[str, list[Scored]]) -> dict[str, float]:
    """The comparison table; returns each model's pooled balanced accuracy."""
    first = pooled(next(iter(results.values())))
    tested = len(np.unique(first.clusters))
    print(
        f"\n{data.name}: {len(data.stacks)} patches of {data.patients} patients, split by {data.split_unit};"
        f" test predictions of all splits pooled ({tested} clusters resampled by the bootstrap)\n"
    )
    f1_heads = " | ".join(f"F1 {label}" for label in data.labels)
    print(f"| model | balanced accuracy, pooled [95 % CI] | per split, mean ± sd | accuracy | {f1_heads} |")
    print("|---|---|---|---|" + "---|" * len(data.labels))
    scores = {}
    for name, rows in results.items():
        everything = pooled(rows)
        low, high = interval(everything)
        per_split = [row.balanced for row in rows]
        spread = statistics.stdev(per_split) if len(per_split) > 1 else 0.0
        f1 = f1_score(
            everything.truth,
            everything.predicted,
            labels=range(len(data.labels)),
            average=None,
            zero_division=0,
        )
        accuracy = float(np.mean(everything.truth == everything.predicted))
        scores[name] = everything.balanced
        cells = [
            f"{everything.balanced:.3f} [{low:.2f}, {high:.2f}]",
            f"{statistics.mean(per_split):.3f} ± {spread:.3f}",
            f"{accuracy:.3f}",
            *(f"{value:.2f}" for value in f1),
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nSE stain weights of the fused network, mean over the pooled test patches of each true class:\n")
    print("| true class | patches | " + " | ".join(data.stains) + " |")
    print("|---|---|" + "---|" * len(data.stains))
    for index, label in enumerate(data.labels):
        mine = first.truth == index
        if mine.any():
            weights = first.weights[mine].mean(axis=0)
            print(f"| {label} | {int(mine.sum())} | " + " | ".join(f"{v:.3f}" for v in weights) + " |")
    return scores


def by_patient_splits(data: Dataset, count: int) -> list[dict[str, list[StainStack]]]:
    """Every patient (region) in the test part of exactly one split (6:2:2 with five)."""
    return [
        {"train": train, "validation": validation, "test": test}
        for train, validation, test in rotated_group_splits(data.stacks, count)
    ]


def leave_one_patient_out(data: Dataset) -> list[dict[str, list[StainStack]]]:
    """Train and validate on one image's regions (4:1), test on the other image."""
    patients = sorted({stack.group.split("/")[0] for stack in data.stacks})
    splits = []
    for held_out in patients:
        rest = [s for s in data.stacks if not s.group.startswith(held_out + "/")]
        train, validation = group_split(rest, (0.8, 0.2), 0)
        splits.append(
            {
                "train": train,
                "validation": validation,
                "test": [s for s in data.stacks if s.group.startswith(held_out + "/")],
            }
        )
    return splits


def chosen_downsample(config: FusionConfig, options: tuple[int, ...]) -> int:
    """The BCI patch resolution: the fused network's validation balanced accuracy on the
    first split (test never looked at)."""
    scores = {}
    for downsample in options:
        data = bci(downsample)
        split = by_patient_splits(data, 5)[0]
        run = train_fusion(
            split | {"test": []}, data.labels, replace(config, stains=data.stains, methods=data.methods)
        )
        scores[downsample] = run.history[run.best_epoch - 1]["val_balanced_accuracy"]
        print(
            f"  1/{downsample} of the scan: validation balanced accuracy {scores[downsample]:.3f}", flush=True
        )
    return max(scores, key=lambda d: scores[d])


def best_single(scores: dict[str, float]) -> str:
    singles = {name: score for name, score in scores.items() if name.endswith(" only")}
    return max(singles, key=lambda name: singles[name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--backbone", default="resnet10t", help="timm branches compared on BCI ('' for none)")
    parser.add_argument("--datasets", nargs="+", choices=("bci", "deepliif"), default=["bci", "deepliif"])
    args = parser.parse_args()
    if not SHARED_DATA.is_dir():
        sys.exit(f"needs {SHARED_DATA} (PATHODESK_SHARED_DATA_DIR)")
    config = FusionConfig(stains=(), methods=(), epochs=args.epochs, patience=3)
    print(f"stain dropout in training: {config.stain_dropout}")
    results = []  # (data set, its scores, facts for the result line)

    if "bci" in args.datasets:
        print("BCI: choosing the patch resolution on validation")
        downsample = chosen_downsample(config, (2, 4))
        data = bci(downsample)
        scores = table(
            data, evaluate(data, config, by_patient_splits(data, args.splits), backbone=args.backbone)
        )
        results.append(("BCI", scores, {"patients": data.patients, "downsample": downsample}))

    if "deepliif" in args.datasets:
        cells = deepliif()
        print(f"\nDeepLIIF: {len(cells.stacks)} nuclei")
        scores = table(cells, evaluate(cells, config, by_patient_splits(cells, args.splits)))
        results.append(("DeepLIIF", scores, {"patients": cells.patients, "split_by": cells.split_unit}))
        print("\nDeepLIIF, leave one patient out (test = the other image):")
        table(
            replace(cells, split_unit="patient (intervals over its 128-px regions)"),
            evaluate(cells, config, leave_one_patient_out(cells)),
        )

    dataset, scores, facts = results[0]  # API.md's line: BCI when it ran
    single = best_single(scores)
    print(
        result_line(
            "fusion",
            scores["fused (SE)"],
            scores[single],
            "balanced accuracy",
            f"{single} (same branch, patches, split and epochs)",
            dataset=dataset,
            splits=args.splits,
            stain_dropout=config.stain_dropout,
            **facts,
        )
    )


if __name__ == "__main__":
    main()
