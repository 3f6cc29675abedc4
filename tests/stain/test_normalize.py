"""Stain normalization (SPEC D3; issue 15, item 4): each method brings a differently stained
H&E to the reference's colours while keeping its structure, the reference maps to itself,
and images without tissue or unknown methods are readable errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity
from sklearn.linear_model import Lasso

from pathodesk.cli import main
from pathodesk.errors import ValidationFailedError
from pathodesk.sampledata import fetch_he_reference
from pathodesk.stain import normalizer
from pathodesk.stain.macenko import macenko_stains
from pathodesk.stain.optical import concentrations, tissue_pixels, to_density, to_rgb
from pathodesk.stain.vahadane import sparse_amounts, vahadane_stains
from tests.support.paths import SAMPLE_DIR

METHODS = ("macenko", "vahadane", "reinhard")


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(fetch_he_reference(SAMPLE_DIR))), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def restained(reference: np.ndarray) -> np.ndarray:
    """The reference with its hematoxylin turned bluer and its eosin paler and more orange:
    the same tissue as another lab's staining would show it."""
    stains = macenko_stains(tissue_pixels(reference))
    amounts = concentrations(to_density(reference).reshape(-1, 3), stains)
    other = np.array([[0.45, 0.70, 0.55], [0.05, 0.75, 0.66]])
    other /= np.linalg.norm(other, axis=1, keepdims=True)
    return to_rgb((amounts * [1.3, 0.6]) @ other).reshape(reference.shape)


def tissue_colour(rgb: np.ndarray) -> np.ndarray:
    lab = rgb2lab(rgb).reshape(-1, 3)
    return lab[lab[:, 0] < 85].mean(axis=0)


@pytest.mark.parametrize("method", METHODS)
def test_a_restained_tile_gets_the_reference_colours_and_keeps_its_structure(
    method: str, reference: np.ndarray, restained: np.ndarray
) -> None:
    target = tissue_colour(reference)
    before = float(deltaE_ciede2000(tissue_colour(restained)[None], target[None])[0])
    out = normalizer(method).fit(reference).transform(restained)
    after = float(deltaE_ciede2000(tissue_colour(out)[None], target[None])[0])
    assert before > 8 and after < before / 3, (before, after)
    density_before, density_after = to_density(restained).sum(axis=2), to_density(out).sum(axis=2)
    span = float(max(density_before.max(), density_after.max()))
    assert structural_similarity(density_before, density_after, data_range=span) >= 0.9


@pytest.mark.parametrize("method", METHODS)
def test_the_reference_normalized_to_itself_is_unchanged(method: str, reference: np.ndarray) -> None:
    out = normalizer(method).fit(reference).transform(reference)
    assert np.abs(out.astype(int) - reference.astype(int)).mean() < 6


def test_vahadane_and_macenko_find_hematoxylin_first(reference: np.ndarray) -> None:
    tissue = tissue_pixels(reference)
    for stains in (macenko_stains(tissue), vahadane_stains(tissue)):
        assert np.allclose(np.linalg.norm(stains, axis=1), 1.0)
        hematoxylin, eosin = stains
        assert hematoxylin[0] > eosin[0] and eosin[1] > eosin[0]  # H absorbs red; eosin green most


def test_sparse_amounts_are_the_lasso_optimum_of_every_pixel() -> None:
    """The closed form against scikit-learn's coordinate-descent lasso, pixel by pixel
    (its objective divides the squared error by the 3 channels, hence α = λ / 3)."""
    rng = np.random.default_rng(3)
    stains = np.abs(rng.normal(0.5, 0.2, (2, 3)))
    stains /= np.linalg.norm(stains, axis=1, keepdims=True)
    density = np.abs(rng.normal(0.4, 0.35, (60, 3))).astype(np.float32)
    ours = sparse_amounts(density, stains, sparsity=0.05)
    for pixel, amounts in zip(density, ours, strict=True):
        lasso = Lasso(alpha=0.05 / 3, positive=True, fit_intercept=False, tol=1e-10, max_iter=100_000)
        assert np.allclose(amounts, lasso.fit(stains.T, pixel).coef_, atol=1e-4)


def test_vahadane_recovers_the_stains_of_a_sparse_mixture() -> None:
    """Pixels made of two known stains, most of them one stain only (what Vahadane assumes):
    the dictionary learning finds both within 1.5° (the L1 term's own bias is about 1°)."""
    truth = np.array([[0.62, 0.70, 0.36], [0.12, 0.86, 0.49]])
    truth /= np.linalg.norm(truth, axis=1, keepdims=True)
    rng = np.random.default_rng(5)
    amounts = rng.gamma(2.0, 0.3, (20_000, 2)) * (rng.random((20_000, 2)) < [0.55, 0.6])
    amounts = amounts[amounts.sum(axis=1) > 0.2]
    density = amounts @ truth + rng.normal(0, 0.01, (len(amounts), 3))
    found = vahadane_stains(density.astype(np.float32))
    angles = np.degrees(np.arccos(np.clip((found * truth).sum(axis=1), -1, 1)))
    assert angles.max() < 1.5, angles


def test_glass_and_unknown_methods_are_readable_errors(reference: np.ndarray) -> None:
    with pytest.raises(ValidationFailedError, match="too little tissue"):
        normalizer("macenko").fit(np.full((64, 64, 3), 250, np.uint8))
    with pytest.raises(ValidationFailedError, match="Unknown normalization method"):
        normalizer("histogram")


def test_the_normalize_command_writes_the_picture(
    reference: np.ndarray, restained: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.fromarray(restained).save(tmp_path / "tile.png")
    code = main(
        [
            "normalize",
            str(tmp_path / "tile.png"),
            "--reference",
            str(fetch_he_reference(SAMPLE_DIR)),
            "--method",
            "vahadane",
            "--out",
            str(tmp_path / "out" / "normalized.png"),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "vahadane" and report["size"] == [restained.shape[1], restained.shape[0]]
    written = np.asarray(Image.open(tmp_path / "out" / "normalized.png"))
    assert written.shape == restained.shape and not list((tmp_path / "out").glob(".*partial"))
