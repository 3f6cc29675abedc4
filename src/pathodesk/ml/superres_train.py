"""Training the super-resolution generator (SPEC E6; issue 17, item 2).

Two recipes of the same generator, so they can be compared at equal size:

- ``l1``: pixel loss only; the epoch kept is the one of the highest validation PSNR.
- ``gan``: starts from an L1 generator (as SRGAN does: adversarial training from scratch
  wanders) and adds the perceptual loss on tissue features (``superres_losses``) and the
  adversarial loss of a patch discriminator; the epoch kept is the one whose validation
  images are nearest the real ones in those tissue features, with PSNR no more than
  ``max_psnr_loss_db`` below the starting generator's (sharper must not mean wrong).

Validation and test use whole tiles of held-out patients, degraded exactly as storage does.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch.nn import functional
from tqdm import tqdm

from pathodesk import __version__
from pathodesk.ml.model_folder import CARD_FILE, MODEL_FILE, write_log
from pathodesk.ml.model_pictures import write_pictures
from pathodesk.ml.nets import count_parameters
from pathodesk.ml.superres_arch import superres_arch
from pathodesk.ml.superres_data import (
    HighResImage,
    PairBatches,
    bicubic,
    cropped_to_multiple,
    degrade,
    to_tensor,
)
from pathodesk.ml.superres_losses import TissueFeatures, adversarial_loss, perceptual_loss
from pathodesk.ml.superres_model import save_superres_model, super_resolve
from pathodesk.ml.superres_nets import PatchDiscriminator, SuperResolutionNet

RECIPES = ("l1", "gan")


@dataclass
class SuperResConfig:
    scale: int = 4
    recipe: str = "l1"
    width: int = 48
    blocks: int = 6
    crop_px: int = 0  # high-resolution crop side; 0: 32 low-resolution pixels
    batch_size: int = 16
    steps_per_epoch: int = 100
    epochs: int = 20
    lr: float = 2e-4
    perceptual_weight: float = 0.05
    adversarial_weight: float = 2e-3
    max_psnr_loss_db: float = 0.3
    seed: int = 0
    threads: int = field(default=2)

    @property
    def crop(self) -> int:
        return self.crop_px or 32 * self.scale


@dataclass(frozen=True)
class Quality:
    psnr: float
    ssim: float
    feature_distance: float


def quality(
    images: Sequence[np.ndarray], outputs: Sequence[np.ndarray], features: TissueFeatures | None
) -> Quality:
    """Mean PSNR (dB), SSIM and tissue-feature distance of ``outputs`` against ``images``."""
    psnr = [peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(images, outputs, strict=True)]
    ssim = [
        structural_similarity(a, b, channel_axis=2, data_range=255)
        for a, b in zip(images, outputs, strict=True)
    ]
    distance = 0.0
    if features is not None:
        with torch.inference_mode():
            distance = float(
                np.mean(
                    [
                        functional.l1_loss(features(to_tensor(a[None])), features(to_tensor(b[None]))).item()
                        for a, b in zip(images, outputs, strict=True)
                    ]
                )
            )
    return Quality(float(np.mean(psnr)), float(np.mean(ssim)), distance)


def evaluate(
    model: SuperResolutionNet | None,
    images: Sequence[np.ndarray],
    scale: int,
    features: TissueFeatures | None,
) -> Quality:
    """The generator (or bicubic, for None) on whole held-out tiles degraded as storage does."""
    model_was_training = model.training if model is not None else False
    if model is not None:
        model.eval()
    outputs = []
    for image in images:
        low = degrade(image, scale)
        outputs.append(bicubic(low, scale) if model is None else super_resolve(model, low))
    if model is not None:
        model.train(model_was_training)
    return quality(images, outputs, features)


@dataclass
class SuperResRun:
    model: SuperResolutionNet
    arch: str
    history: list[dict[str, float]]
    best_epoch: int
    validation: Quality
    seconds: float


def train_superres(
    train: Sequence[HighResImage],
    validation: Sequence[HighResImage],
    config: SuperResConfig,
    features: TissueFeatures,
    start: SuperResolutionNet | None = None,
    progress: bool = False,
) -> SuperResRun:
    """Fit a generator; ``start`` is required for the ``gan`` recipe (an L1 generator)."""
    if config.recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}")
    if config.recipe == "gan" and start is None:
        raise ValueError("the gan recipe starts from an L1 generator")
    began = time.perf_counter()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    arch = superres_arch(config.scale, config.width, config.blocks)
    model = (
        copy.deepcopy(start)
        if start is not None
        else SuperResolutionNet(config.scale, config.width, config.blocks)
    )
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs * config.steps_per_epoch)
    critic = critic_optimizer = None
    if config.recipe == "gan":
        critic = PatchDiscriminator()
        critic_optimizer = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=(0.5, 0.999))
    held_out = [cropped_to_multiple(image.pixels, config.scale) for image in validation]
    batches = PairBatches(
        train, config.scale, config.crop, config.batch_size, config.steps_per_epoch, config.seed
    )
    floor = (
        evaluate(model, held_out, config.scale, features).psnr - config.max_psnr_loss_db if start else None
    )
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, torch.Tensor]] = (-np.inf, 0, copy.deepcopy(model.state_dict()))
    for epoch in range(1, config.epochs + 1):
        totals = np.zeros(4)
        for low, high in tqdm(batches, desc=f"epoch {epoch}", disable=not progress):
            generated = model(low)
            pixel = functional.l1_loss(generated, high)
            loss = pixel
            perceptual = adversarial = torch.zeros(())
            if critic is not None and critic_optimizer is not None:
                perceptual = perceptual_loss(features, generated, high)
                adversarial = adversarial_loss(critic(generated), real=True)
                loss = pixel + config.perceptual_weight * perceptual + config.adversarial_weight * adversarial
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if critic is not None and critic_optimizer is not None:
                critic_loss = adversarial_loss(critic(high), real=True) + adversarial_loss(
                    critic(generated.detach()), real=False
                )
                critic_optimizer.zero_grad(set_to_none=True)
                critic_loss.backward()
                critic_optimizer.step()
            totals += [loss.item(), pixel.item(), perceptual.item(), adversarial.item()]
        measured = evaluate(model, held_out, config.scale, features)
        row = {
            "epoch": epoch,
            "train_loss": totals[0] / len(batches),
            "train_l1": totals[1] / len(batches),
            "train_perceptual": totals[2] / len(batches),
            "train_adversarial": totals[3] / len(batches),
            "val_psnr": measured.psnr,
            "val_ssim": measured.ssim,
            "val_feature_distance": measured.feature_distance,
        }
        history.append(row)
        if progress:
            tqdm.write(
                f"epoch {epoch}: loss {row['train_loss']:.4f} | validation PSNR {measured.psnr:.2f} dB"
                f" SSIM {measured.ssim:.3f} feature distance {measured.feature_distance:.4f}"
            )
        if config.recipe == "l1":
            score = measured.psnr
        else:
            score = -measured.feature_distance if floor is None or measured.psnr >= floor else -np.inf
        if score > best[0] or best[1] == 0:
            best = (score, epoch, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[2])
    model.eval()
    chosen = history[best[1] - 1]
    validation_quality = Quality(chosen["val_psnr"], chosen["val_ssim"], chosen["val_feature_distance"])
    return SuperResRun(model, arch, history, best[1], validation_quality, time.perf_counter() - began)


def save_superres_run(
    run: SuperResRun,
    splits: Mapping[str, Sequence[HighResImage]],
    config: SuperResConfig,
    out_dir: Path,
    *,
    disease_type: str,
    data_description: str,
    test: dict[str, object] | None = None,
    notes: Sequence[str] = (),
) -> dict[str, object]:
    """A registry folder: model file, card (role ``superres``), log and curves."""
    out_dir.mkdir(parents=True, exist_ok=True)
    save_superres_model(out_dir / MODEL_FILE, run.model, run.arch)
    write_log(run.history, out_dir)
    card: dict[str, object] = {
        "arch": run.arch,
        "role": "superres",
        "scale": config.scale,
        "disease_type": disease_type,
        "data": data_description,
        "notes": list(notes),
        "parameters": count_parameters(run.model),
        "labels": [],
        "splits": {
            name: {"images": len(images), "patients": len({image.group for image in images})}
            for name, images in splits.items()
        }
        | {"grouped_by": "no patient in two splits"},
        "training": {
            **asdict(config),
            "epochs_run": len(run.history),
            "best_epoch": run.best_epoch,
            "seconds": round(run.seconds, 1),
            "optimizer": "Adam, cosine schedule",
            "torch": torch.__version__,
            "pathodesk": __version__,
        },
        "validation": {k: round(v, 4) for k, v in asdict(run.validation).items()},
        "test": test,
    }
    text = json.dumps(card, indent=2)
    (out_dir / CARD_FILE).write_text(text)
    write_pictures(out_dir)
    return dict(json.loads(text))
