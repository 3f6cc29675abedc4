"""Train the shipped super-resolution models (SPEC E6; issue 17, item 2): ×4 and ×8, each an
L1 generator and a GAN generator fine-tuned from it, on the 20 native 40× MoNuSeg tiles
(``he-40x-sr-monuseg``: 20 patients, 8 organs), split 6:2:2 by patient (12 / 4 / 4; one
tile a patient, so stratifying by organ, 1–4 patients each, would only unbalance the
parts). Both are shipped; the GAN one (the seed's recipe; its folder sorts first) becomes
the active one, the L1 one is there to compare and to switch to
(``bench/superres_quality.py``). The test patients are never looked at here.

    .venv/bin/python scripts/train_superres.py [--scales 4 8] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from pathodesk.ml.data import group_split
from pathodesk.ml.superres_data import HighResImage
from pathodesk.ml.superres_losses import TissueFeatures
from pathodesk.ml.superres_train import SuperResConfig, SuperResRun, save_superres_run, train_superres

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
SOURCE = "he-40x-sr-monuseg"
FEATURE_MODEL = ROOT / "src" / "pathodesk" / "shipped_models" / "lung" / "model.pt"
SPLIT = (0.6, 0.2, 0.2)


def monuseg_tiles(root: Path) -> list[HighResImage]:
    rows = list(csv.DictReader((root / "labels.csv").open()))
    return [
        HighResImage(np.ascontiguousarray(cv2.imread(str(root / row["path"]))[..., ::-1]), row["patient_id"])
        for row in rows
    ]


def patient_splits(images: list[HighResImage]) -> dict[str, list[HighResImage]]:
    train, validation, test = group_split(images, SPLIT, seed=0)
    return {"train": train, "validation": validation, "test": test}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "pathodesk" / "shipped_models")
    parser.add_argument("--l1-epochs", type=int, default=16)
    parser.add_argument("--gan-epochs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=80, help="steps per epoch")
    args = parser.parse_args()
    root = SHARED_DATA / SOURCE
    if not root.is_dir():
        sys.exit(f"needs {root} (PATHODESK_SHARED_DATA_DIR)")
    splits = patient_splits(monuseg_tiles(root))
    features = TissueFeatures(FEATURE_MODEL)
    described = ", ".join(f"{name} {len(images)} patients" for name, images in splits.items())
    print(f"{SOURCE}: {described}", flush=True)
    for scale in args.scales:
        base = SuperResConfig(scale=scale, steps_per_epoch=args.steps)
        l1_config = replace(base, recipe="l1", epochs=args.l1_epochs, lr=4e-4)
        l1 = train_superres(splits["train"], splits["validation"], l1_config, features, progress=True)
        save(l1, l1_config, args.out / f"superres-x{scale}-l1", splits, described)
        gan_config = replace(base, recipe="gan", epochs=args.gan_epochs, lr=5e-5)
        gan = train_superres(
            splits["train"], splits["validation"], gan_config, features, start=l1.model, progress=True
        )
        save(gan, gan_config, args.out / f"superres-x{scale}", splits, described)


def save(
    run: SuperResRun,
    config: SuperResConfig,
    folder: Path,
    splits: dict[str, list[HighResImage]],
    described: str,
) -> None:
    save_superres_run(
        run,
        {name: splits[name] for name in ("train", "validation")},
        config,
        folder,
        disease_type="*",
        data_description=f"{SOURCE}: native 40x H&E tiles, {described}",
        notes=[
            "perceptual loss: stem and first three stages of the shipped lung tile classifier"
            if config.recipe == "gan"
            else "pixel (L1) loss only",
            "degradation: random blur (sigma 0-1 px), area downsampling, JPEG 75-95",
        ],
    )
    quality = run.validation
    print(
        f"x{config.scale} {config.recipe}: best epoch {run.best_epoch},"
        f" validation PSNR {quality.psnr:.2f} dB, SSIM {quality.ssim:.3f} ({run.seconds:.0f} s) -> {folder}",
        flush=True,
    )


if __name__ == "__main__":
    main()
