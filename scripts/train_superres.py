"""Train the shipped super-resolution models (SPEC E6; issue 17, item 2): ×4 and ×8, each an
L1 generator and a GAN generator fine-tuned from it, on the 20 native 40× MoNuSeg tiles
(``he-40x-sr-monuseg``: 20 patients, 8 organs), split 6:2:2 by patient (12 / 4 / 4; one
tile a patient, so stratifying by organ, 1–4 patients each, would only unbalance the
parts). The 7 MoNuSeg tiles of ``monuseg-nuclei-xml`` are 7 more patients, none of them
among the 20: they only ever join the training part, so validation and test stay the same
patients as before. Both are shipped; the GAN one (the seed's recipe; its folder sorts
first) becomes the active one, the L1 one is there to compare and to switch to
(``bench/superres_quality.py``). The test patients are never looked at here.

    .venv/bin/python scripts/train_superres.py [--scales 4 8] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from pathodesk.ml.model_folder import CARD_FILE, MODEL_FILE
from pathodesk.ml.registry import GENERAL_TYPE
from pathodesk.ml.superres_data import HighResImage, bicubic, cropped_to_multiple, degrade, read_images
from pathodesk.ml.superres_losses import TissueFeatures
from pathodesk.ml.superres_model import load_superres_model, super_resolve
from pathodesk.ml.superres_nets import SuperResolutionNet
from pathodesk.ml.superres_split import native_tiles, patient_splits
from pathodesk.ml.superres_train import (
    SuperResConfig,
    SuperResRun,
    evaluate,
    save_superres_run,
    train_superres,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("PATHODESK_SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
SOURCE = "he-40x-sr-monuseg"
EXTRA_SOURCE = "monuseg-nuclei-xml"  # 7 more 40x MoNuSeg patients, training only
FEATURE_MODEL = ROOT / "src" / "pathodesk" / "shipped_models" / "lung" / "model.pt"


def monuseg_splits(root: Path) -> dict[str, list[HighResImage]]:
    """The source's tiles, read, in the package's split by patient (``ml.superres_split``)."""
    return {
        name: [HighResImage(np.ascontiguousarray(cv2.imread(str(t.path))[..., ::-1]), t.group) for t in tiles]
        for name, tiles in patient_splits(native_tiles(root)).items()
    }


def extra_training_tiles(root: Path, held_out: list[HighResImage]) -> list[HighResImage]:
    """The extra source's tiles, each its own patient (the TCGA barcode's first 12
    characters); refuses any patient of validation or test."""
    tiles = [replace(tile, group=tile.group[:12]) for tile in read_images(root / "images")]
    shared = {tile.group for tile in tiles} & {image.group for image in held_out}
    if shared:
        sys.exit(f"{root.name} shares patients with validation or test: {sorted(shared)}")
    return tiles


def test_scores(model: SuperResolutionNet, images: list[HighResImage], scale: int) -> dict[str, object]:
    """The test patients, scored once after training (never used to choose anything)."""
    real = [cropped_to_multiple(image.pixels, scale) for image in images]
    ours, bicubic_ = evaluate(model, real, scale, None), evaluate(None, real, scale, None)
    return {
        "count": len(images),
        "psnr": round(ours.psnr, 2),
        "ssim": round(ours.ssim, 3),
        "bicubic_psnr": round(bicubic_.psnr, 2),
        "bicubic_ssim": round(bicubic_.ssim, 3),
    }


def examples_picture(
    images: list[HighResImage], scale: int, models: dict[str, SuperResolutionNet], path: Path
) -> list[str]:
    """Crops of validation tiles, one row each: real | bicubic | each model, as a bare grid of
    equal cells; the model page writes the columns' names above it in the reader's language.
    Returns the columns, for the card."""
    side, gap = 192, 6
    columns = ["real", "bicubic", *models]
    rows = []
    for image in images:
        real = cropped_to_multiple(image.pixels, scale)
        top = (real.shape[0] - side) // 2
        window = np.s_[top : top + side, top : top + side]
        low = degrade(real, scale)
        pictures = [real, bicubic(low, scale), *(super_resolve(model, low) for model in models.values())]
        rows.append([picture[window] for picture in pictures])
    grid = np.full((len(rows) * (side + gap), len(columns) * (side + gap), 3), 255, np.uint8)
    for row, crops in enumerate(rows):
        for column, crop in enumerate(crops):
            y, x = row * (side + gap) + gap // 2, column * (side + gap) + gap // 2
            grid[y : y + side, x : x + side] = crop
    cv2.imwrite(str(path), grid[..., ::-1])
    return columns


def score(scale: int, folders: dict[str, Path], splits: dict[str, list[HighResImage]]) -> None:
    """Test scores into each card, and the example crops beside them."""
    models = {recipe: load_superres_model(folder / MODEL_FILE).model for recipe, folder in folders.items()}
    for recipe, folder in folders.items():
        card = json.loads((folder / CARD_FILE).read_text())
        card["test"] = test_scores(models[recipe], splits["test"], scale)
        print(f"x{scale} {recipe} test: {card['test']}", flush=True)
        card["examples"] = examples_picture(splits["validation"][:3], scale, models, folder / "examples.png")
        (folder / CARD_FILE).write_text(json.dumps(card, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "pathodesk" / "shipped_models")
    parser.add_argument("--width", type=int, default=64, help="the generator's feature maps")
    parser.add_argument("--blocks", type=int, default=7, help="the generator's residual blocks")
    parser.add_argument("--l1-epochs", type=int, default=12)
    parser.add_argument("--steps", type=int, default=250, help="steps per L1 epoch")
    parser.add_argument("--gan-epochs", type=int, default=2)
    parser.add_argument("--gan-steps", type=int, default=100, help="steps per GAN epoch")
    parser.add_argument(
        "--score-only", action="store_true", help="score the shipped models again, no training"
    )
    args = parser.parse_args()
    root = SHARED_DATA / SOURCE
    if not root.is_dir():
        sys.exit(f"needs {root} (PATHODESK_SHARED_DATA_DIR)")
    splits = monuseg_splits(root)
    splits["train"] += extra_training_tiles(SHARED_DATA / EXTRA_SOURCE, splits["validation"] + splits["test"])
    features = TissueFeatures(FEATURE_MODEL)
    described = ", ".join(f"{name} {len(images)} patients" for name, images in splits.items())
    print(f"{SOURCE} + {EXTRA_SOURCE}: {described}", flush=True)
    for scale in args.scales:
        folders = {"L1": args.out / f"superres-x{scale}-l1", "GAN": args.out / f"superres-x{scale}"}
        if args.score_only:
            score(scale, folders, splits)
            continue
        base = SuperResConfig(scale=scale, width=args.width, blocks=args.blocks)
        l1_config = replace(base, recipe="l1", epochs=args.l1_epochs, steps_per_epoch=args.steps, lr=4e-4)
        l1 = train_superres(splits["train"], splits["validation"], l1_config, features, progress=True)
        save(l1, l1_config, args.out / f"superres-x{scale}-l1", splits, described)
        gan_config = replace(
            base, recipe="gan", epochs=args.gan_epochs, steps_per_epoch=args.gan_steps, lr=5e-5
        )
        gan = train_superres(
            splits["train"], splits["validation"], gan_config, features, start=l1.model, progress=True
        )
        save(gan, gan_config, args.out / f"superres-x{scale}", splits, described)
        score(scale, folders, splits)


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
        disease_type=GENERAL_TYPE,  # the general generators: every type without its own
        data_description=f"{SOURCE} + {EXTRA_SOURCE}: native 40x H&E tiles, {described}",
        notes=[
            "perceptual loss: stem and first three stages of the shipped lung tile classifier"
            if config.recipe == "gan"
            else "pixel (L1) loss only",
            "degradation: the storage path (area downsampling, JPEG), JPEG 85-95,"
            " a blur of sigma 0-0.5 px on 30 % of crops",
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
