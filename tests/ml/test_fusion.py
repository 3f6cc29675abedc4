"""The multi-stain classifier (SPEC D4–D6; issue 16, items 1, 3 and 6): the seed's rotation
set turning every stain of a patch alike, the squeeze-and-excitation weights, a network that
learns from the stain that carries the class and leans on it, the same run twice giving the
same weights, and a model file that predicts as trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pathodesk.errors import ValidationFailedError
from pathodesk.ml.data import group_split
from pathodesk.ml.fusion_data import (
    ROTATIONS,
    StainNormalization,
    StainStack,
    augmented,
    cut,
    grid_stacks,
    read_lesions,
    window_px,
)
from pathodesk.ml.fusion_model import load_fusion_model, stain_weights
from pathodesk.ml.fusion_nets import StainExcitation, StainFusionNet
from pathodesk.ml.fusion_train import FusionConfig, save_fusion_run, train_fusion
from pathodesk.ml.model_folder import CARD_FILE, MODEL_FILE

PATCH = 28


def test_the_rotation_set_is_the_seeds_and_every_stain_is_turned_alike() -> None:
    assert ROTATIONS == (60, 90, 180, 270)
    size = window_px(PATCH)
    rng = np.random.default_rng(0)
    window = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    stack = StainStack(np.stack([window, window, 255 - window]), 0, "a")
    versions = augmented(stack, PATCH, rng)
    assert versions.shape == (5, 3, PATCH, PATCH, 3)  # four turns and one random crop: five samples
    assert np.array_equal(versions[:, 0], versions[:, 1]) and np.array_equal(
        versions[:, 2], 255 - versions[:, 0]
    )
    as_lies = cut(stack.windows, 0, (0, 0), PATCH)[0]
    # 180° and 270° are exact turns of the patch as it lies (90° too, up to the turn's direction)
    assert np.array_equal(versions[2, 0], np.rot90(as_lies, 2))
    assert np.array_equal(versions[3, 0], np.rot90(as_lies, -1)) or np.array_equal(
        versions[3, 0], np.rot90(as_lies, 1)
    )


def test_stain_excitation_weighs_each_stain_by_one_number_in_0_1() -> None:
    excitation = StainExcitation(3)
    features = torch.rand(5, 3, 512)
    scaled, weights = excitation(features)
    assert weights.shape == (5, 3) and bool(((weights > 0) & (weights < 1)).all())
    assert torch.allclose(scaled, features * weights.unsqueeze(2))
    net = StainFusionNet(3, 4)
    logits = net(torch.rand(2, 3, 3, PATCH, PATCH))
    assert logits.shape == (2, 4) and net.last_weights is not None and net.last_weights.shape == (2, 3)


def two_stain_lesions(count: int = 16) -> list[StainStack]:
    """Stain 1 is the same kind of pink texture in both classes; stain 2 shows the class
    (brown spots for class 1, blue for class 0). Each lesion is its own patient."""
    rng = np.random.default_rng(7)
    stacks: list[StainStack] = []
    for lesion in range(count):
        label = lesion % 2
        pink = np.clip(rng.normal((220, 150, 190), 25, (112, 112, 3)), 0, 255).astype(np.uint8)
        marked = np.full((112, 112, 3), 235, np.uint8)
        for _ in range(40):
            y, x = rng.integers(4, 108, 2)
            marked[y - 3 : y + 3, x - 3 : x + 3] = (120, 70, 30) if label else (60, 70, 160)
        stacks += grid_stacks([pink, marked], label, f"lesion-{lesion}", PATCH, min_tissue=0.0)
    return stacks


def small_config(**changes: object) -> FusionConfig:
    base = {"stains": ("H&E", "IHC"), "methods": (None, None), "epochs": 3, "patience": 3, "batch_size": 32}
    return FusionConfig(**(base | changes))  # type: ignore[arg-type]


def splits_of(stacks: list[StainStack]) -> dict[str, list[StainStack]]:
    train, validation, test = group_split(stacks, (0.6, 0.2, 0.2), 0)
    assert not ({s.group for s in train} & {s.group for s in test})  # D5: no patient in two splits
    return {"train": train, "validation": validation, "test": test}


def test_the_fused_network_learns_from_the_stain_that_shows_the_class_and_leans_on_it() -> None:
    splits = splits_of(two_stain_lesions())
    run = train_fusion(splits, ["negative", "positive"], small_config())
    assert run.test is not None and float(run.test["balanced_accuracy"]) >= 0.9  # type: ignore[arg-type]
    assert run.test_weights is not None
    texture, marker = run.test_weights.mean(axis=0)
    assert marker > texture, (texture, marker)


def test_the_same_run_twice_gives_the_same_weights() -> None:
    splits = splits_of(two_stain_lesions(8))
    config = small_config(epochs=1, max_steps_per_epoch=4)
    first = train_fusion(splits, ["negative", "positive"], config).model.state_dict()
    second = train_fusion(splits, ["negative", "positive"], config).model.state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_a_saved_fusion_model_predicts_as_trained(tmp_path: Path) -> None:
    splits = splits_of(two_stain_lesions(8))
    labels = ["negative", "positive"]
    config = small_config(epochs=1, max_steps_per_epoch=4, methods=("macenko", None))
    run = train_fusion(splits, labels, config)
    card = save_fusion_run(
        run, splits, labels, config, tmp_path, disease_type="lung", data_description="synthetic"
    )
    assert card["role"] == "fusion" and card["stains"] == ["H&E", "IHC"]
    assert (
        (tmp_path / MODEL_FILE).is_file()
        and (tmp_path / CARD_FILE).is_file()
        and (tmp_path / "curves.png").is_file()
    )
    loaded = load_fusion_model(tmp_path / MODEL_FILE)
    assert loaded.stains == ["H&E", "IHC"] and loaded.labels == labels and loaded.patch_px == PATCH
    from pathodesk.ml.fusion_data import centre_patches

    test = loaded.normalization.recoloured(splits["test"])
    probabilities, _ = stain_weights(loaded.model, loaded.normalization.tensor(centre_patches(test, PATCH)))
    assert run.test_probabilities is not None
    assert np.allclose(probabilities, run.test_probabilities, atol=1e-5)


def test_lesions_csv_is_read_and_bad_ones_are_refused(tmp_path: Path) -> None:
    image = np.full((84, 84, 3), 120, np.uint8)
    for name in ("he.png", "ihc.png"):
        Image.fromarray(image).save(tmp_path / name)
    (tmp_path / "lesions.csv").write_text("group,label,H&E,HER2\np1,her2_3,he.png,ihc.png\n")
    lesions = read_lesions(tmp_path / "lesions.csv", PATCH)
    assert lesions.stains == ["H&E", "HER2"] and lesions.labels == ["her2_3"] and len(lesions.stacks) == 9
    (tmp_path / "bad.csv").write_text("group,label,H&E,HER2\np1,her2_3,he.png,missing.png\n")
    with pytest.raises(ValidationFailedError, match="not a readable image"):
        read_lesions(tmp_path / "bad.csv", PATCH)
    (tmp_path / "header.csv").write_text("patient,class,H&E\n")
    with pytest.raises(ValidationFailedError, match="group,label"):
        read_lesions(tmp_path / "header.csv", PATCH)


def test_an_ihc_stain_keeps_its_amount_when_recoloured() -> None:
    """Two patients' DAB-like stain, one faint and one strong: recoloured with the stain's
    vectors only (``-vectors``), the strong one stays darker — the amount is the finding —
    while a full normalization would bring both to the reference's amount."""
    rng = np.random.default_rng(3)
    brown = np.array([0.27, 0.57, 0.78])  # DAB optical density per channel, per unit amount
    blue = np.array([0.65, 0.70, 0.29])  # hematoxylin

    def patient(name: str, dab: float) -> list[StainStack]:
        amounts = np.stack([rng.gamma(2, 0.15, (84, 84)), dab * rng.gamma(2, 0.3, (84, 84))], axis=-1)
        density = amounts @ np.stack([blue, brown])
        rgb = np.clip(255 * 10 ** (-density), 0, 255).astype(np.uint8)
        return grid_stacks([rgb], 0, name, PATCH, min_tissue=0.0)

    stacks = patient("faint", 0.3) + patient("strong", 1.5)

    def darkness(method: str) -> tuple[float, float]:
        normalization = StainNormalization.fit(stacks, [method], PATCH)
        recoloured = normalization.recoloured(stacks)
        means = {
            name: np.mean([255 - s.windows.mean() for s in recoloured if s.group == name])
            for name in ("faint", "strong")
        }
        return means["faint"], means["strong"]

    faint, strong = darkness("macenko-vectors")
    assert strong > faint + 15, (faint, strong)
    faint_full, strong_full = darkness("macenko")
    assert abs(strong_full - faint_full) < (strong - faint) / 2, (faint_full, strong_full)


def test_stain_dropout_silences_stains_in_training_only() -> None:
    """Modality dropout: some stains of a sample silenced in training, never all; none in use."""
    torch.manual_seed(0)
    net = StainFusionNet(3, 2, dropout=0.0, stain_dropout=0.5)
    features = torch.ones(400, 3, 8)
    kept = net._kept_stains(features)[..., 0]
    assert kept.shape == (400, 3) and bool((kept.sum(dim=1) >= 1).all())  # never every stain
    assert 0.3 < float(1 - kept.mean()) < 0.5  # about half silenced, less the rescued ones
    stacks = torch.rand(4, 3, 3, PATCH, PATCH)
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(stacks), net(stacks))  # in use: nothing random
