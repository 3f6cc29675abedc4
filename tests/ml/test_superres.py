"""The super-resolution generator (SPEC E6; issue 17, items 2 and 6): any input size, an
untrained generator equal to bicubic, tiles that join without seams, training that beats
bicubic on tissue it never saw, the same run twice giving the same weights, the GAN recipe
kept within its PSNR floor, and models of both scales active side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio
from torch.nn import functional

from pathodesk.analysis.superres import super_resolve_tiled
from pathodesk.errors import ValidationFailedError
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.ml.superres_arch import parse_superres_arch, superres_arch
from pathodesk.ml.superres_data import (
    STORED_JPEG_QUALITY,
    Degradation,
    HighResImage,
    bicubic,
    degrade,
    to_tensor,
)
from pathodesk.ml.superres_losses import TissueFeatures
from pathodesk.ml.superres_model import load_superres_model, save_superres_model, super_resolve
from pathodesk.ml.superres_nets import CONTEXT_LOW_PX, PatchDiscriminator, SuperResolutionNet, reach_low_px
from pathodesk.ml.superres_train import SuperResConfig, evaluate, train_superres
from pathodesk.slides.superresolved import SuperResolvedReader

TINY = {"width": 16, "blocks": 2, "batch_size": 8, "crop_px": 0}


@pytest.fixture(scope="module")
def tissue(samples: dict[str, Path]) -> tuple[list[HighResImage], list[HighResImage]]:
    """Two disjoint fields of a 40× H&E field (TIAToolbox's stain reference, fetched by
    ``make setup``): the left half trains, the top of the right half validates."""
    image = np.asarray(Image.open(samples["svs"].parent / "he-reference-tiatoolbox.png").convert("RGB"))
    train = np.ascontiguousarray(image[:, :496])
    validation = np.ascontiguousarray(image[:496, 504:])
    return [HighResImage(train, "a")], [HighResImage(validation, "b")]


@pytest.fixture(scope="module")
def features() -> TissueFeatures:
    return TissueFeatures(SHIPPED_DIR / "lung" / "model.pt")


def _perturbed(scale: int) -> SuperResolutionNet:
    """A generator with every weight non-zero, so the test sees its whole reach."""
    torch.manual_seed(1)
    model = SuperResolutionNet(scale, width=16, blocks=2)
    with torch.no_grad():
        for parameter in model.decoder[-2].parameters():
            parameter.normal_(0, 0.05)
    return model.eval()


@pytest.mark.parametrize("scale", [4, 8])
def test_the_generator_takes_any_size_and_starts_as_bicubic(scale: int) -> None:
    low = torch.rand(2, 3, 23, 37)
    model = SuperResolutionNet(scale, width=16, blocks=2).eval()
    with torch.no_grad():
        high = model(low)
    assert high.shape == (2, 3, 23 * scale, 37 * scale)
    expected = functional.interpolate(low, scale_factor=scale, mode="bicubic", align_corners=False)
    assert torch.equal(high, expected)  # the residual starts at zero: nothing learned, nothing lost
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())  # fully convolutional
    assert PatchDiscriminator()(high).shape == (2, 1, 23 * scale // 8, 37 * scale // 8)


@pytest.mark.parametrize("scale", [4, 8])
def test_tiles_join_without_seams(scale: int, tissue: tuple[list[HighResImage], list[HighResImage]]) -> None:
    low = degrade(tissue[0][0].pixels[:504, :488], 8)[:, :59]  # 63 × 59: tiles cut mid-image
    model = _perturbed(scale)
    whole = super_resolve(model, low)
    tiled = super_resolve_tiled(model, low, tile_px=16)
    assert tiled.shape == whole.shape == (low.shape[0] * scale, low.shape[1] * scale, 3)
    assert int(np.abs(tiled.astype(int) - whole.astype(int)).max()) <= 1  # float rounding only
    no_context = super_resolve_tiled(model, low, tile_px=16, context_px=0)
    assert int(np.abs(no_context.astype(int) - whole.astype(int)).max()) > 4  # the test sees seams


@pytest.mark.parametrize("scale", [4, 8])
def test_no_generator_sees_further_than_the_margin_tiles_are_enlarged_with(
    scale: int, tmp_path: Path
) -> None:
    """E8 seams: every region is enlarged with CONTEXT_LOW_PX stored pixels around it, so a
    generator that sees further would make tiles differ at their joins. ``reach_low_px`` is
    checked against the network: one changed input pixel moves output pixels exactly that far
    (in double precision, with strong weights, so no path fades to nothing)."""
    deepest = max(blocks for blocks in range(1, 30) if reach_low_px(scale, blocks) <= CONTEXT_LOW_PX)
    with pytest.raises(ValueError, match="margin"):
        SuperResolutionNet(scale, width=8, blocks=deepest + 1)
    torch.manual_seed(0)
    model = SuperResolutionNet(scale, width=8, blocks=deepest).double().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
        low = torch.rand(1, 3, 72, 72, dtype=torch.float64)
        changed = low.clone()
        changed[..., 36, 36] += 0.5
        moved = (model(changed) - model(low)).abs().amax(dim=(0, 1)) > 0
    rows, columns = np.nonzero(moved.numpy())
    centre_in_input = (np.concatenate([rows, columns]) + 0.5) / scale - 0.5
    seen = float(np.abs(centre_in_input - 36).max())
    # an output pixel's centre lies up to (scale - 1) / (2 · scale) from its input pixel's
    assert seen == pytest.approx(reach_low_px(scale, deepest) + (scale - 1) / (2 * scale))
    assert SuperResolvedReader.__init__.__defaults__ == (CONTEXT_LOW_PX,)
    too_deep = tmp_path / "too-deep" / "model.pt"
    too_deep.parent.mkdir()
    torch.save({"arch": superres_arch(scale, 8, deepest + 1), "state_dict": {}}, too_deep)
    with pytest.raises(ValidationFailedError, match="seams"):
        load_superres_model(too_deep)
    for folder in sorted(SHIPPED_DIR.glob("superres-*")):
        parsed = parse_superres_arch(load_superres_model(folder / "model.pt").arch)
        assert parsed is not None and reach_low_px(parsed[0], parsed[2]) <= CONTEXT_LOW_PX, folder.name


def test_degradation_is_the_stored_pyramids() -> None:
    high = np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)
    low = degrade(high, 4)
    assert low.shape == (16, 12, 3) and low.dtype == np.uint8
    exact = degrade(high, 4, Degradation(jpeg_quality=None))
    area = high.reshape(16, 4, 12, 4, 3).mean(axis=(1, 3))
    assert np.abs(exact.astype(float) - area).max() <= 1  # area downsampling is the mean of each block
    assert bicubic(low, 4).shape == high.shape


def test_training_degradations_stay_near_the_storage_path() -> None:
    """E6: the generator serves pyramids PathoDesk stored itself (area, JPEG 90), so training
    draws near that path: JPEG 85–95, most crops unblurred, any blur slight."""
    rng = np.random.default_rng(0)
    drawn = [Degradation.random(rng) for _ in range(2000)]
    qualities = {d.jpeg_quality for d in drawn}
    assert qualities <= set(range(85, 96)) and STORED_JPEG_QUALITY in qualities
    blurs = np.array([d.blur_sigma for d in drawn])
    assert 0.6 < float(np.mean(blurs == 0)) < 0.8
    assert float(blurs.max()) <= 0.5


def test_training_beats_bicubic_on_tissue_it_never_saw(
    tissue: tuple[list[HighResImage], list[HighResImage]], features: TissueFeatures
) -> None:
    train, validation = tissue
    config = SuperResConfig(scale=4, epochs=3, steps_per_epoch=25, lr=1e-3, **TINY)
    run = train_superres(train, validation, config, features)
    held_out = [validation[0].pixels]
    baseline = evaluate(None, held_out, 4, features)
    assert run.validation.psnr > baseline.psnr + 0.05  # 75 steps of a 16-map net: a start, measurably
    assert run.history[run.best_epoch - 1]["val_psnr"] == max(row["val_psnr"] for row in run.history)

    again = train_superres(train, validation, config, features)
    for name, value in run.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[name]), name  # seeded: the same run

    sharper = train_superres(
        train,
        validation,
        SuperResConfig(scale=4, recipe="gan", epochs=2, steps_per_epoch=8, lr=1e-4, **TINY),
        features,
        start=run.model,
    )
    assert sharper.validation.psnr >= run.validation.psnr - 0.3 - 1e-6  # the floor the GAN keeps
    assert sharper.history[0]["train_adversarial"] > 0 and sharper.history[0]["train_perceptual"] > 0


def test_a_saved_generator_enlarges_as_trained(tmp_path: Path) -> None:
    model = _perturbed(8)
    save_superres_model(tmp_path / "model.pt", model, superres_arch(8, 16, 2))
    loaded = load_superres_model(tmp_path / "model.pt")
    assert loaded.scale == 8
    low = np.random.default_rng(2).integers(0, 255, (9, 11, 3), dtype=np.uint8)
    assert np.array_equal(super_resolve(loaded.model, low), super_resolve(model, low))
    with torch.no_grad():
        assert peak_signal_noise_ratio(
            super_resolve(loaded.model, low), bicubic(low, 8), data_range=255
        ) > 20 and to_tensor(low[None]).shape == (1, 3, 9, 11)
