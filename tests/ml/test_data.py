"""Data sets and splits (issue 6, item 1; SPEC B3, B4, D5)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pathodesk.ml.data import (
    DataError,
    Sample,
    apply_dihedral,
    balance_by_augmentation,
    group_split,
    read_groups,
    rotated_group_splits,
    scan_class_folders,
)
from pathodesk.ml.pipeline import Batches, ImageBank
from pathodesk.ml.slide_tiles import annotated_slide_tiles


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 12)), min_size=6, max_size=60),
    three_way=st.booleans(),
    seed=st.integers(0, 5),
)
def test_group_split_never_puts_a_group_in_two_splits(
    groups: list[tuple[int, int]], three_way: bool, seed: int
) -> None:
    samples = [
        Sample(Path(f"g{g}/{i}.png"), label, f"g{g}")
        for g, (label, size) in enumerate(groups)
        for i in range(size)
    ]
    fractions = (0.6, 0.2, 0.2) if three_way else (0.8, 0.2)
    splits = group_split(samples, fractions, seed)
    assert sorted(s.path for part in splits for s in part) == sorted(s.path for s in samples)
    owners = Counter(group for part in splits for group in {s.group for s in part})
    assert max(owners.values()) == 1
    assert group_split(samples, fractions, seed) == splits  # reproducible


@settings(max_examples=40, deadline=None)
@given(groups=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6)), min_size=5, max_size=40))
def test_rotated_splits_test_every_group_exactly_once(groups: list[tuple[int, int]]) -> None:
    samples = [
        Sample(Path(f"g{g}/{i}.png"), label, f"g{g}")
        for g, (label, size) in enumerate(groups)
        for i in range(size)
    ]
    splits = rotated_group_splits(samples, 5)
    tested = Counter(group for _, _, test in splits for group in {s.group for s in test})
    assert set(tested) == {s.group for s in samples} and set(tested.values()) == {1}
    for parts in splits:
        assert sorted(s.path for part in parts for s in part) == sorted(s.path for s in samples)
        owners = Counter(group for part in parts for group in {s.group for s in part})
        assert max(owners.values()) == 1  # D5: no patient in two parts of one split
    per_class = Counter(label for label, _ in groups)
    for label, count in per_class.items():
        if count >= 5:  # a class with five or more groups has one in every test part
            assert all(any(s.label == label for s in test) for _, _, test in splits)


def test_split_fractions_hold_per_class_with_many_groups() -> None:
    samples = [
        Sample(Path(f"{c}/{g}/{i}"), c, f"{c}-{g}") for c in range(3) for g in range(50) for i in range(4)
    ]
    for fractions in ((0.8, 0.2), (0.6, 0.2, 0.2)):
        for part, fraction in zip(group_split(samples, fractions), fractions, strict=True):
            per_class = Counter(s.label for s in part)
            assert all(abs(per_class[c] / 200 - fraction) <= 0.03 for c in range(3))


def test_balancing_tops_up_smaller_classes_with_rotations_and_flips() -> None:
    samples = [Sample(Path(f"a{i}"), 0, f"a{i}") for i in range(10)] + [
        Sample(Path(f"b{i}"), 1, f"b{i}") for i in range(3)
    ]
    balanced = balance_by_augmentation(samples)
    assert Counter(s.label for s in balanced) == {0: 10, 1: 10}
    copies = [s for s in balanced if s.dihedral]
    assert len(copies) == 7 and all(s.label == 1 for s in copies)
    assert len({(s.path, s.dihedral) for s in balanced}) == len(balanced)  # no exact repeats
    image = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    assert (
        len({apply_dihedral(image, k).tobytes() + bytes(apply_dihedral(image, k).shape) for k in range(8)})
        == 8
    )


def test_class_folders_and_their_errors(cmu_tiles: Path, tmp_path: Path) -> None:
    found = scan_class_folders(cmu_tiles, read_groups(cmu_tiles / "groups.csv"))
    assert found.labels == ["glass", "tissue"]
    assert min(found.counts().values()) >= 20
    assert len({s.group for s in found.samples}) < len(found.samples) / 2  # grouped by 2 x 2 blocks
    with pytest.raises(DataError, match="at least two"):
        (tmp_path / "only").mkdir()
        scan_class_folders(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="without images: empty"):
        Image.new("RGB", (8, 8)).save(tmp_path / "only" / "x.png")
        scan_class_folders(tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        scan_class_folders(tmp_path / "missing")
    (tmp_path / "bad.csv").write_text("file,patient\n")
    with pytest.raises(DataError, match="path,group"):
        read_groups(tmp_path / "bad.csv")


def test_normalisation_is_computed_on_the_given_split(cmu_tiles: Path) -> None:
    found = scan_class_folders(cmu_tiles)
    bank = ImageBank(found.samples, 64)
    tissue = [s for s in found.samples if s.label == 1]
    stats = bank.normalization(tissue)
    bilinear = Image.Resampling.BILINEAR  # as load_rgb
    pixels = (
        np.stack([np.asarray(Image.open(s.path).convert("RGB").resize((64, 64), bilinear)) for s in tissue])
        / 255
    )
    assert np.allclose(stats.mean, pixels.mean(axis=(0, 1, 2)), atol=0.01)
    assert np.allclose(stats.std, pixels.std(axis=(0, 1, 2)), atol=0.01)
    batch, labels = next(iter(Batches(bank, tissue, stats, 16, train=False)))
    assert batch.shape == (16, 3, 64, 64) and labels.tolist() == [1] * 16
    assert abs(float(batch.mean())) < 0.5  # normalised


def test_tiles_inside_annotations_take_their_class(samples: dict[str, Path], tmp_path: Path) -> None:
    """Data from annotated slides (issue 6, item 1b): QuPath GeoJSON in level-0 pixels."""
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[0, 0], [1024, 0], [1024, 512], [0, 512], [0, 0]]],
            },
            "properties": {
                "objectType": "annotation",
                "classification": {"name": "tumour", "color": [200, 0, 0]},
            },
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[0, 1024], [512, 1024], [512, 1536], [0, 1024]]],
            },
            "properties": {"objectType": "annotation", "classification": {"name": "normal"}},
        },
    ]
    geojson = tmp_path / "a.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    found = annotated_slide_tiles([(samples["svs"], geojson)], tile_px=256, tissue_only=False)
    assert found.labels == ["normal", "tumour"]
    tumour = [s.region for s in found.samples if s.label == 1]
    assert len(tumour) == 8 and all(r is not None and r.x < 1024 and r.y < 512 for r in tumour)
    # the right triangle holds one tile whole and two halved by its diagonal (half counts)
    normal = {(r.x, r.y) for s in found.samples if s.label == 0 and (r := s.region)}
    assert normal == {(0, 1024), (256, 1024), (256, 1280)}
    bank = ImageBank(found.samples, 32)
    assert bank.pixels.shape == (len(found.samples), 3, 32, 32) and int(bank.pixels.float().std()) > 5
    # B2: by default only tiles of the tissue mask count; those outlines lie on glass
    assert annotated_slide_tiles([(samples["svs"], geojson)], tile_px=256).samples == []
    over_tissue = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[768, 1024], [1024, 1024], [1024, 2048], [768, 2048]]],
        },
        "properties": {"classification": {"name": "tumour"}},
    }
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [*features, over_tissue]}))
    kept = annotated_slide_tiles([(samples["svs"], geojson)], tile_px=256, labels=["normal", "tumour"])
    corners = {(s.region.x, s.region.y) for s in kept.samples if s.region is not None}
    assert corners == {(768, y) for y in (1024, 1280, 1536, 1792)}


def test_training_batches_vary_orientation_and_stain(cmu_tiles: Path) -> None:
    """Beyond B4: random rotations/flips and HED stain jitter while training, never in evaluation."""
    import torch

    from pathodesk.ml.pipeline import jitter_stains

    found = scan_class_folders(cmu_tiles)
    tissue = [s for s in found.samples if s.label == 1][:8]
    bank = ImageBank(tissue, 32)
    stats = bank.normalization(tissue)
    plain = Batches(bank, tissue, stats, 8, train=False)
    assert torch.equal(plain.images(torch.arange(8)), plain.images(torch.arange(8)))
    jittered = Batches(bank, tissue, stats, 8, train=True, stain_jitter=0.2)
    first, second = jittered.images(torch.arange(8)), jittered.images(torch.arange(8))
    assert not torch.equal(first, second)

    rgb = bank.pixels[:4].float() / 255
    generator = torch.Generator().manual_seed(0)
    assert torch.allclose(jitter_stains(rgb, 0.0, generator), rgb, atol=1e-5)  # no jitter, same image
    changed = jitter_stains(rgb, 0.2, generator)
    assert 0.005 < float((changed - rgb).abs().mean()) < 0.1  # a different stain, the same tissue
